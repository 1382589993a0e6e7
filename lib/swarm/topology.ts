/**
 * Topology maths: pure functions over agent indices 0..n-1. Agents and the coordinator use the
 * same functions, so a route computed anywhere is the route a message really travels.
 */
import { InvalidInputError } from '../errors.ts';

export const TOPOLOGIES = ['mesh', 'hierarchical', 'ring', 'star'] as const;
export type TopologyKind = (typeof TOPOLOGIES)[number];

/** An undirected graph of agents with the agent that originates proposals and state. */
export interface Topology {
  kind: TopologyKind;
  size: number;
  /** Tree fan-out (hierarchical only). */
  fanOut: number;
  /** Agent that proposes and originates state: hub of a star, root of a tree, agent 0 otherwise. */
  root: number;
  /** Sorted neighbour lists, index = agent. */
  neighbors: number[][];
}

/** Default tree fan-out: each leader aggregates this many followers. */
export const DEFAULT_FAN_OUT = 3;

/** Parse and check a topology name. */
export function parseTopology(value: unknown): TopologyKind {
  if (typeof value === 'string' && (TOPOLOGIES as readonly string[]).includes(value)) {
    return value as TopologyKind;
  }
  throw new InvalidInputError('topology', `one of ${TOPOLOGIES.join(', ')}`, value);
}

/** Build the graph of a topology of `size` agents. */
export function buildTopology(kind: TopologyKind, size: number, fanOut = DEFAULT_FAN_OUT): Topology {
  parseTopology(kind);
  if (!Number.isInteger(size) || size < 1) {
    throw new InvalidInputError('agents', 'a whole number >= 1', size);
  }
  if (!Number.isInteger(fanOut) || fanOut < 2) {
    throw new InvalidInputError('fanOut', 'a whole number >= 2', fanOut);
  }
  const sets: Set<number>[] = Array.from({ length: size }, () => new Set<number>());
  const link = (a: number, b: number) => {
    if (a === b) return;
    sets[a]?.add(b);
    sets[b]?.add(a);
  };
  switch (kind) {
    case 'mesh':
      for (let a = 0; a < size; a++) for (let b = a + 1; b < size; b++) link(a, b);
      break;
    case 'ring':
      for (let a = 0; a < size; a++) link(a, (a + 1) % size);
      break;
    case 'star':
      for (let a = 1; a < size; a++) link(0, a);
      break;
    case 'hierarchical':
      // Heap layout: the parent of i is floor((i - 1) / fanOut).
      for (let a = 1; a < size; a++) link(a, Math.floor((a - 1) / fanOut));
      break;
  }
  return {
    kind,
    size,
    fanOut,
    root: 0,
    neighbors: sets.map((s) => [...s].sort((x, y) => x - y)),
  };
}

/** Every undirected edge once, as [low, high]. */
export function edges(topology: Topology): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  topology.neighbors.forEach((list, a) => {
    for (const b of list) if (a < b) out.push([a, b]);
  });
  return out;
}

/**
 * Breadth-first search from `origin`, skipping agents in `down`. Returns each agent's parent on
 * the shortest path tree (-1 for the origin, undefined when unreachable). Ties go to the lower
 * index so every agent computes the same tree.
 */
export function bfsParents(
  topology: Topology,
  origin: number,
  down: ReadonlySet<number> = EMPTY,
): Array<number | undefined> {
  const parent: Array<number | undefined> = new Array(topology.size).fill(undefined);
  if (down.has(origin)) return parent;
  parent[origin] = -1;
  const queue = [origin];
  for (let head = 0; head < queue.length; head++) {
    const node = queue[head] as number;
    for (const next of topology.neighbors[node] ?? []) {
      if (parent[next] !== undefined || down.has(next)) continue;
      parent[next] = node;
      queue.push(next);
    }
  }
  return parent;
}

const EMPTY: ReadonlySet<number> = new Set();

/** The agents on the shortest path from `from` to `to` (both included), or undefined if cut off. */
export function shortestPath(
  topology: Topology,
  from: number,
  to: number,
  down: ReadonlySet<number> = EMPTY,
): number[] | undefined {
  const parent = bfsParents(topology, to, down);
  if (parent[from] === undefined) return undefined;
  const path = [from];
  let node = from;
  while (node !== to) {
    node = parent[node] as number;
    path.push(node);
  }
  return path;
}

/** Number of hops between two agents (0 for the same agent), undefined if unreachable. */
export function hopCount(topology: Topology, from: number, to: number): number | undefined {
  const path = shortestPath(topology, from, to);
  return path === undefined ? undefined : path.length - 1;
}

/**
 * Next-hop table of one agent: for each destination, the neighbour to send to. Computed with one
 * BFS per destination (n <= a few hundred), cached by callers and recomputed when a peer goes down.
 */
export function nextHops(
  topology: Topology,
  self: number,
  down: ReadonlySet<number> = EMPTY,
): Array<number | undefined> {
  const table: Array<number | undefined> = new Array(topology.size).fill(undefined);
  for (let dest = 0; dest < topology.size; dest++) {
    if (dest === self) continue;
    const parent = bfsParents(topology, dest, down);
    const hop = parent[self];
    table[dest] = hop === undefined || hop === -1 ? undefined : hop;
  }
  return table;
}

/** Children of `self` in the broadcast tree rooted at `origin`: where a flood from origin goes next. */
export function broadcastChildren(
  topology: Topology,
  origin: number,
  self: number,
  down: ReadonlySet<number> = EMPTY,
): number[] {
  const parent = bfsParents(topology, origin, down);
  const children: number[] = [];
  parent.forEach((p, node) => {
    if (p === self) children.push(node);
  });
  return children;
}

/** Hop count from `origin` to each agent over the shortest path tree (0 for the origin and the unreachable). */
function depths(topology: Topology, origin: number): number[] {
  const parent = bfsParents(topology, origin);
  return Array.from({ length: topology.size }, (_, node) => {
    let depth = 0;
    let cur = node;
    while (parent[cur] !== undefined && parent[cur] !== -1) {
      cur = parent[cur] as number;
      depth++;
    }
    return depth;
  });
}

/** Largest hop count from `origin` to any agent (the depth of a flood). */
export function eccentricity(topology: Topology, origin: number): number {
  return Math.max(0, ...depths(topology, origin));
}

/**
 * Hops from `origin` to the `quorum`-th nearest agent, the origin counting as the first: the d_q
 * of a round a leader runs (proposal out, votes back, decision out: at least 3 d_q message delays
 * until a quorum holds the decision).
 */
export function quorumDepth(topology: Topology, origin: number, quorum: number): number {
  const sorted = depths(topology, origin).sort((a, b) => a - b);
  return sorted[Math.min(Math.max(quorum, 1), topology.size) - 1] ?? 0;
}

/** Quorum 2f+1 with f = floor((n-1)/3) tolerated faults, never less than a strict majority. */
export function defaultQuorum(size: number): number {
  const f = Math.floor((size - 1) / 3);
  return 2 * f + 1 > size ? size : Math.max(2 * f + 1, Math.min(size, Math.floor(size / 2) + 1));
}
