/**
 * The state machine definition checked once, where Step Functions checks it: when the state
 * machine is created (synthesis, locally), not at every execution. The check is the ASL
 * interpreter's own (asl-validator: schema, transitions, paths, ARNs).
 */
import { StateMachine } from 'aws-local-stepfunctions';

/** Throws an Error listing every problem when `definition` is not a valid state machine. */
export function assertValidDefinition(definition: Record<string, unknown>): void {
  new StateMachine(definition as never);
}

/**
 * A state machine to execute `definition`; `checked` when it was validated at synthesis (the
 * check compiles a JSON schema set, a second or more under load, which CreateStateMachine pays
 * once and StartExecution never).
 */
export function executableMachine(definition: Record<string, unknown>, checked: boolean): StateMachine {
  return new StateMachine(definition as never, checked ? { validationOptions: { noValidate: true } } : {});
}
