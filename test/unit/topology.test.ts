import { describe, expect, it } from 'vitest';
import { InvalidInputError } from '../../lib/errors.ts';
import {
  bfsParents,
  broadcastChildren,
  buildTopology,
  DEFAULT_FAN_OUT,
  defaultQuorum,
  eccentricity,
  edges,
  hopCount,
  nextHops,
  parseTopology,
  quorumDepth,
  shortestPath,
  TOPOLOGIES,
  type Topology,
} from '../../lib/swarm/topology.ts';

/** True when every consecutive pair of `path` is an edge of the topology. */
function followsEdges(topology: Topology, path: number[]): boolean {
  return path.every((node, i) => i === 0 || (topology.neighbors[path[i - 1] as number] ?? []).includes(node));
}

function catchError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

describe('buildTopology: edges and neighbours', () => {
  it.each([1, 2, 5, 10, 17])('mesh of %i has n(n-1)/2 edges and every agent n-1 neighbours', (n) => {
    // Act
    const mesh = buildTopology('mesh', n);
    // Assess
    expect(edges(mesh)).toHaveLength((n * (n - 1)) / 2);
    mesh.neighbors.forEach((list, i) => {
      expect(list).toHaveLength(n - 1);
      expect(list).not.toContain(i);
    });
  });

  it.each([3, 4, 10, 11])('ring of %i has n edges, each agent linked to i-1 and i+1', (n) => {
    // Act
    const ring = buildTopology('ring', n);
    // Assess
    expect(edges(ring)).toHaveLength(n);
    ring.neighbors.forEach((list, i) => {
      expect(list).toEqual([(i + n - 1) % n, (i + 1) % n].sort((a, b) => a - b));
    });
  });

  it('ring of 2 and of 1 collapse to one edge and no edge', () => {
    // Act / Assess
    expect(edges(buildTopology('ring', 2))).toEqual([[0, 1]]);
    expect(edges(buildTopology('ring', 1))).toEqual([]);
  });

  it.each([2, 5, 10])('star of %i has n-1 edges, all through the hub', (n) => {
    // Act
    const star = buildTopology('star', n);
    // Assess
    expect(edges(star)).toHaveLength(n - 1);
    expect(star.root).toBe(0);
    expect(star.neighbors[0]).toEqual(Array.from({ length: n - 1 }, (_, i) => i + 1));
    for (let i = 1; i < n; i++) expect(star.neighbors[i]).toEqual([0]);
  });

  it.each([
    [10, 3],
    [10, 2],
    [13, 4],
    [40, 3],
  ])('hierarchical of %i with fan-out %i is a tree with parent floor((i-1)/k)', (n, fanOut) => {
    // Act
    const tree = buildTopology('hierarchical', n, fanOut);
    // Assess
    expect(edges(tree)).toHaveLength(n - 1);
    expect(tree.fanOut).toBe(fanOut);
    for (let i = 1; i < n; i++) {
      const parent = Math.floor((i - 1) / fanOut);
      expect(tree.neighbors[i]).toContain(parent);
      const children = Array.from({ length: fanOut }, (_, c) => i * fanOut + 1 + c).filter((c) => c < n);
      expect(tree.neighbors[i]).toEqual([parent, ...children]);
    }
    expect(tree.neighbors[0]).toEqual(Array.from({ length: Math.min(fanOut, n - 1) }, (_, c) => c + 1));
  });

  it('defaults the fan-out to DEFAULT_FAN_OUT and keeps neighbour lists sorted', () => {
    // Act
    const tree = buildTopology('hierarchical', 10);
    // Assess
    expect(tree.fanOut).toBe(DEFAULT_FAN_OUT);
    for (const topology of TOPOLOGIES.map((kind) => buildTopology(kind, 12))) {
      for (const list of topology.neighbors) expect(list).toEqual([...list].sort((a, b) => a - b));
    }
  });

  it('every edge is listed once as [low, high] and the graph is symmetric', () => {
    for (const kind of TOPOLOGIES) {
      // Act
      const topology = buildTopology(kind, 10);
      const list = edges(topology);
      // Assess
      expect(new Set(list.map(([a, b]) => `${a}-${b}`)).size).toBe(list.length);
      for (const [a, b] of list) {
        expect(a).toBeLessThan(b);
        expect(topology.neighbors[b]).toContain(a);
      }
      const degreeSum = topology.neighbors.reduce((sum, l) => sum + l.length, 0);
      expect(degreeSum).toBe(2 * list.length);
    }
  });
});

describe('shortestPath and hopCount', () => {
  it('a ring message to the opposite agent takes n/2 hops through every agent between', () => {
    // Prepare
    const ring = buildTopology('ring', 10);
    // Act
    const path = shortestPath(ring, 0, 5);
    // Assess
    expect(path).toEqual([0, 1, 2, 3, 4, 5]);
    expect(hopCount(ring, 0, 5)).toBe(5);
    expect(hopCount(ring, 2, 7)).toBe(5);
    expect(hopCount(buildTopology('ring', 12), 3, 9)).toBe(6);
  });

  it('ring paths go the short way round', () => {
    // Prepare
    const ring = buildTopology('ring', 10);
    // Act / Assess
    expect(shortestPath(ring, 0, 8)).toEqual([0, 9, 8]);
    expect(shortestPath(ring, 8, 1)).toEqual([8, 9, 0, 1]);
    expect(hopCount(ring, 4, 4)).toBe(0);
    expect(shortestPath(ring, 4, 4)).toEqual([4]);
  });

  it('a tree path goes up to the common ancestor and down again', () => {
    // Prepare: fan-out 3; 4 is under 1, 9 is under 2, 7 and 9 share parent 2.
    const tree = buildTopology('hierarchical', 10, 3);
    // Act / Assess
    expect(shortestPath(tree, 4, 9)).toEqual([4, 1, 0, 2, 9]);
    expect(hopCount(tree, 4, 9)).toBe(4);
    expect(shortestPath(tree, 7, 9)).toEqual([7, 2, 9]);
    expect(shortestPath(tree, 5, 0)).toEqual([5, 1, 0]);
  });

  it('star leaves talk through the hub; mesh agents directly', () => {
    // Act / Assess
    expect(shortestPath(buildTopology('star', 10), 3, 7)).toEqual([3, 0, 7]);
    expect(shortestPath(buildTopology('mesh', 10), 3, 7)).toEqual([3, 7]);
  });

  it('every path follows edges and is as short as hopCount says, in every topology', () => {
    for (const kind of TOPOLOGIES) {
      const topology = buildTopology(kind, 11);
      for (let a = 0; a < 11; a++) {
        for (let b = 0; b < 11; b++) {
          // Act
          const path = shortestPath(topology, a, b);
          // Assess
          expect(path?.[0]).toBe(a);
          expect(path?.at(-1)).toBe(b);
          expect(followsEdges(topology, path ?? [])).toBe(true);
          expect(hopCount(topology, a, b)).toBe((path?.length ?? 0) - 1);
          expect(hopCount(topology, a, b)).toBe(hopCount(topology, b, a));
        }
      }
    }
  });

  it('a path avoids down agents, and is undefined when they cut the graph', () => {
    // Prepare
    const ring = buildTopology('ring', 10);
    const tree = buildTopology('hierarchical', 10, 3);
    // Act / Assess
    expect(shortestPath(ring, 0, 5, new Set([3]))).toEqual([0, 9, 8, 7, 6, 5]);
    expect(shortestPath(ring, 0, 5, new Set([3, 7]))).toBeUndefined();
    expect(shortestPath(tree, 4, 9, new Set([1]))).toBeUndefined();
    expect(shortestPath(ring, 0, 5, new Set([5]))).toBeUndefined();
  });
});

describe('nextHops', () => {
  it('in a ring, each destination is reached through the neighbour on the short side', () => {
    // Prepare
    const ring = buildTopology('ring', 10);
    // Act
    const table = nextHops(ring, 0);
    // Assess
    expect(table).toEqual([undefined, 1, 1, 1, 1, 1, 9, 9, 9, 9]);
  });

  it('with one dead agent the ring routes the long way round', () => {
    // Prepare
    const ring = buildTopology('ring', 10);
    // Act
    const table = nextHops(ring, 0, new Set([3]));
    // Assess: 2 is still reached directly; 4 and 5 now go via 9.
    expect(table[2]).toBe(1);
    expect(table[4]).toBe(9);
    expect(table[5]).toBe(9);
    expect(table[3]).toBeUndefined();
  });

  it('following next hops from any agent reaches the destination along the shortest path', () => {
    for (const kind of TOPOLOGIES) {
      const topology = buildTopology(kind, 10);
      const down = new Set([kind === 'star' ? 4 : 6]);
      for (let from = 0; from < 10; from++) {
        for (let to = 0; to < 10; to++) {
          if (from === to || down.has(from) || down.has(to)) continue;
          const expected = shortestPath(topology, from, to, down);
          // Act
          const walked = [from];
          while (walked.at(-1) !== to && walked.length <= 10) {
            const hop = nextHops(topology, walked.at(-1) as number, down)[to];
            if (hop === undefined) break;
            walked.push(hop);
          }
          // Assess
          expect(walked).toEqual(expected ?? walked.slice(0, 1));
          expect(walked.some((node) => down.has(node))).toBe(false);
        }
      }
    }
  });

  it('an unreachable destination has no next hop', () => {
    // Prepare: the tree cut at agent 1 leaves 4, 5, 6 alone.
    const tree = buildTopology('hierarchical', 10, 3);
    // Act
    const table = nextHops(tree, 0, new Set([1]));
    // Assess
    expect([table[4], table[5], table[6]]).toEqual([undefined, undefined, undefined]);
    expect(table[9]).toBe(2);
  });
});

describe('broadcastChildren', () => {
  /** Children of every live agent in the flood tree of `origin`. */
  function floodTree(topology: Topology, origin: number, down: Set<number>) {
    const live = topology.neighbors.map((_, i) => i).filter((i) => !down.has(i));
    return live.map((self) => ({ self, children: broadcastChildren(topology, origin, self, down) }));
  }

  it.each(
    TOPOLOGIES.flatMap((kind) => [
      [kind, 0, []],
      [kind, 0, [3]],
      [kind, 5, [7]],
      [kind, 2, [1, 9]],
    ]) as Array<[Topology['kind'], number, number[]]>,
  )(
    '%s flood from %i with down %j reaches every reachable live agent exactly once',
    (kind, origin, downList) => {
      // Prepare
      const topology = buildTopology(kind, 10);
      const down = new Set(downList);
      const reachable = bfsParents(topology, origin, down).filter((p) => p !== undefined).length;
      // Act
      const tree = floodTree(topology, origin, down);
      // Assess
      const received = tree.flatMap((t) => t.children);
      expect(received).toHaveLength(reachable - 1);
      expect(new Set(received).size).toBe(received.length);
      expect(received).not.toContain(origin);
      for (const node of received) expect(down.has(node)).toBe(false);
      for (const { self, children } of tree) {
        for (const child of children) expect(topology.neighbors[self]).toContain(child);
      }
    },
  );

  it('when nothing cuts the graph the children of live agents sum to live count - 1', () => {
    // Prepare
    const ring = buildTopology('ring', 10);
    const down = new Set([3]);
    // Act
    const total = floodTree(ring, 0, down).reduce((sum, t) => sum + t.children.length, 0);
    // Assess
    expect(total).toBe(10 - down.size - 1);
    expect(broadcastChildren(ring, 0, 0, down)).toEqual([1, 9]);
    expect(broadcastChildren(ring, 0, 2, down)).toEqual([]);
    expect(broadcastChildren(ring, 0, 5, down)).toEqual([4]);
  });

  it('a star hub floods to every leaf and a leaf to nobody', () => {
    // Prepare
    const star = buildTopology('star', 10);
    // Act / Assess
    expect(broadcastChildren(star, 0, 0)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(broadcastChildren(star, 0, 4)).toEqual([]);
    expect(broadcastChildren(star, 4, 4)).toEqual([0]);
    expect(broadcastChildren(star, 4, 0)).toEqual([1, 2, 3, 5, 6, 7, 8, 9]);
  });
});

describe('eccentricity', () => {
  it.each([
    ['mesh', 0, 1],
    ['star', 0, 1],
    ['star', 5, 2],
    ['ring', 0, 5],
    ['ring', 3, 5],
    ['hierarchical', 0, 2],
    ['hierarchical', 9, 4],
  ] as Array<[Topology['kind'], number, number]>)(
    '%s of 10 from agent %i is %i',
    (kind, origin, expected) => {
      // Act / Assess
      expect(eccentricity(buildTopology(kind, 10), origin)).toBe(expected);
    },
  );

  it('equals the largest hop count and is 0 for one agent', () => {
    // Prepare
    const ring = buildTopology('ring', 11);
    // Act
    const hops = Array.from({ length: 11 }, (_, to) => hopCount(ring, 0, to) ?? -1);
    // Assess
    expect(eccentricity(ring, 0)).toBe(Math.max(...hops));
    expect(eccentricity(buildTopology('mesh', 1), 0)).toBe(0);
  });
});

describe('defaultQuorum', () => {
  it.each([
    [1, 1],
    [2, 2],
    [3, 2],
    [4, 3],
    [7, 5],
    [10, 7],
    [100, 67],
  ])('n=%i -> %i', (n, quorum) => {
    // Act / Assess
    expect(defaultQuorum(n)).toBe(quorum);
  });

  it('is always a strict majority and never more than n', () => {
    for (let n = 1; n <= 200; n++) {
      // Act
      const q = defaultQuorum(n);
      // Assess
      expect(q).toBeGreaterThan(n / 2);
      expect(q).toBeLessThanOrEqual(n);
    }
  });
});

describe('invalid input names the field', () => {
  it.each([
    ['torus', 10, 3, 'topology'],
    ['', 10, 3, 'topology'],
    ['ring', 0, 3, 'agents'],
    ['ring', -1, 3, 'agents'],
    ['mesh', 2.5, 3, 'agents'],
    ['mesh', Number.NaN, 3, 'agents'],
    ['hierarchical', 10, 1, 'fanOut'],
    ['hierarchical', 10, 2.5, 'fanOut'],
  ] as Array<[string, number, number, string]>)(
    'buildTopology(%j, %j, %j) -> %s',
    (kind, size, fanOut, field) => {
      // Act
      const error = catchError(() => buildTopology(kind as Topology['kind'], size, fanOut));
      // Assess
      expect(error).toBeInstanceOf(InvalidInputError);
      expect((error as InvalidInputError).field).toBe(field);
      expect((error as InvalidInputError).message).toMatch(new RegExp(`^${field}:`));
    },
  );

  it('parseTopology accepts the four names and lists them when refusing', () => {
    // Act / Assess
    for (const kind of TOPOLOGIES) expect(parseTopology(kind)).toBe(kind);
    const error = catchError(() => parseTopology(42));
    expect(error).toBeInstanceOf(InvalidInputError);
    expect((error as Error).message).toContain('mesh, hierarchical, ring, star');
  });
});

describe('quorumDepth', () => {
  it.each([
    ['mesh', 10, 7, 1],
    ['star', 10, 7, 1],
    ['ring', 10, 7, 3],
    ['ring', 10, 10, 5],
    ['hierarchical', 10, 7, 2],
    ['mesh', 10, 1, 0],
  ] as const)('%s of %i agents, quorum %i: %i hops', (kind, size, quorum, hops) => {
    // Prepare
    const topology = buildTopology(kind, size);
    // Act
    const depth = quorumDepth(topology, topology.root, quorum);
    // Assess
    expect(depth).toBe(hops);
  });
});
