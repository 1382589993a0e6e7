// Raw floor: the barest WebSocket server node + ws can be. It echoes every frame unparsed and
// answers a JSON request ({"t":"req","id":N,...}) with {"t":"res","id":N,"ok":true}, which is the
// least an agent's health answer could cost. A binary frame starting with the window frame's magic
// byte ('W', as an agent's execute request does) is answered, unread, with a text frame of the
// size of an agent's execute answer: the least a strategy round trip could cost. Prints one ready
// line like the agent; exits when its stdin closes (the bench died) or on SIGTERM.
import { WebSocketServer } from 'ws';

const wss = new WebSocketServer({
  host: '127.0.0.1',
  port: 0,
  perMessageDeflate: false,
  maxPayload: 1024 * 1024,
});
// The size of an agent's answer to execute (a signal and its compute time).
const EXECUTE_ANSWER = JSON.stringify({
  t: 'res',
  id: 1234,
  ok: true,
  result: { action: 'hold', confidence: 0.1234567890123, size: 0, computeUs: 12.345 },
});

wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => {
    if (isBinary && data[0] === 0x57) {
      ws.send(EXECUTE_ANSWER);
      return;
    }
    if (!isBinary && data[0] === 0x7b && data.toString('latin1', 0, 10) === '{"t":"req"') {
      const { id } = JSON.parse(data.toString());
      ws.send(JSON.stringify({ t: 'res', id, ok: true, result: { pid: process.pid } }));
      return;
    }
    ws.send(data, { binary: isBinary });
  });
});
wss.on('listening', () => {
  process.stdout.write(`${JSON.stringify({ event: 'ready', port: wss.address().port, pid: process.pid })}\n`);
});
process.stdin.on('end', () => process.exit(0));
process.stdin.on('error', () => process.exit(0));
process.stdin.resume();
