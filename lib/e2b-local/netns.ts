/**
 * Network isolation of local sandboxes, as a microVM has it: each sandbox gets its own Linux network
 * namespace joined by a veth pair to one bridge per local E2B, so every sandbox's agents can bind
 * the same port, and the sandbox reaches other sandboxes only through the edge (on the bridge
 * address), never directly. Needs root and iproute2; every name carries the instance id, so two
 * local E2Bs on one machine (parallel tests) never collide, and close() removes all it made.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Where `ip netns exec` finds per-namespace replacements for files in /etc. */
const NETNS_ETC = '/etc/netns';

/** One sandbox's namespace. */
export interface SandboxNetwork {
  /** Namespace name (for `ip netns exec`). */
  ns: string;
  /** The sandbox's address on the bridge: its agents are reached here by the edge. */
  address: string;
}

/** Run `ip` with a batch of commands on stdin: one process for many changes. */
async function ipBatch(lines: string[], ns?: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const child = execFile(
      'ip',
      [...(ns === undefined ? [] : ['-n', ns]), '-batch', '-'],
      (error, _stdout, stderr) => {
        if (error) reject(new Error(`ip -batch failed: ${String(stderr).trim() || error.message}`));
        else resolve();
      },
    );
    child.stdin?.end(`${lines.join('\n')}\n`);
  });
}

/** The bridge, subnet and namespaces of one local E2B instance. */
export class NamespaceNetwork {
  readonly bridge: string;
  /** The host's address on the bridge: where the edge and the sandboxes' DNS listen. */
  readonly hostAddress: string;
  readonly #prefix: string;
  readonly #id: string;
  readonly #free: number[] = [];
  readonly #live = new Map<string, number>();
  /** Namespaces made ahead of demand, as E2B keeps VMs warm: creating one costs ~0.1-0.5 s. */
  readonly #spares: SandboxNetwork[] = [];
  #spareTarget = 0;
  /**
   * Namespaces of ended sandboxes, emptied, kept for the next sandboxes: E2B's orchestrator keeps
   * its network slots the same way (a pool of reused slots, taken before new ones). Deleting a
   * namespace costs the kernel far more than making one, and each one deleted on a loaded machine
   * is CPU the running sandboxes' agents do not get.
   */
  readonly #reused: SandboxNetwork[] = [];
  #reuseLimit = 0;
  /** Spares being made, side by side: made one after another they fall behind a burst of creates. */
  readonly #making = new Set<Promise<void>>();
  #closed = false;
  #next = 2;
  readonly #counters = {
    namespacesFromSpare: 0,
    namespacesOnDemand: 0,
    namespacesReused: 0,
    namespaceSetupMs: 0,
  };

  private constructor(id: string, prefix: string) {
    this.#id = id;
    this.#prefix = prefix;
    this.bridge = `e2bbr${id}`;
    this.hostAddress = `${prefix}.1`;
  }

  /** Create the bridge on a /24 no interface on this machine uses yet. */
  static async create(id: string): Promise<NamespaceNetwork> {
    if (!/^[a-z0-9]{4,6}$/.test(id))
      throw new Error(`namespace network id must be 4-6 of a-z0-9 (got ${id})`);
    const { stdout } = await run('ip', ['-4', '-o', 'addr', 'show']);
    let prefix = '';
    for (let attempt = 0; attempt < 50 && prefix === ''; attempt++) {
      const candidate = `10.${200 + Math.floor(Math.random() * 50)}.${Math.floor(Math.random() * 256)}`;
      if (!stdout.includes(` ${candidate}.`)) prefix = candidate;
    }
    if (prefix === '') throw new Error('no free 10.x.y.0/24 subnet for the local E2B bridge');
    const network = new NamespaceNetwork(id, prefix);
    // A MAC of its own (locally administered): without one the bridge takes its lowest port's MAC
    // and changes it as sandboxes come and go, and the sandboxes' cached entry for the host (the
    // edge, DNS) then points at a MAC no longer there.
    const mac = ['02', ...[...randomBytes(5)].map((byte) => byte.toString(16).padStart(2, '0'))].join(':');
    await ipBatch([
      `link add ${network.bridge} address ${mac} type bridge`,
      `addr add ${network.hostAddress}/24 dev ${network.bridge}`,
      `link set ${network.bridge} up`,
    ]);
    return network;
  }

  /** Keep `count` namespaces ready ahead of demand. */
  keepSpare(count: number): void {
    this.#spareTarget = count;
    this.#refill();
  }

  #refill(): void {
    while (!this.#closed && this.#spares.length + this.#making.size < this.#spareTarget) {
      const making: Promise<void> = this.#make()
        .then(async (spare) => {
          if (this.#closed) await this.remove(spare.ns);
          else this.#spares.push(spare);
        })
        // A spare that could not be made is not tried again here: the next add() makes its own.
        .catch(() => undefined)
        .finally(() => this.#making.delete(making));
      this.#making.add(making);
    }
  }

  /** Keep up to `count` namespaces of ended sandboxes for reuse (0: delete each one). */
  keepReused(count: number): void {
    this.#reuseLimit = count;
  }

  /**
   * A namespace for one sandbox, with DNS pointing at `hostAddress`: one an ended sandbox left, else
   * a spare if one is ready, else a new one.
   */
  async add(): Promise<SandboxNetwork> {
    const reused = this.#reused.shift();
    if (reused !== undefined) {
      this.#counters.namespacesReused++;
      return reused;
    }
    const spare = this.#spares.shift();
    this.#refill();
    if (spare !== undefined) this.#counters.namespacesFromSpare++;
    else this.#counters.namespacesOnDemand++;
    return spare ?? this.#make();
  }

  /** Namespaces handed out ready, made on demand and reused, and the time spent making namespaces. */
  counters(): {
    namespacesFromSpare: number;
    namespacesOnDemand: number;
    namespacesReused: number;
    namespaceSetupMs: number;
  } {
    return { ...this.#counters };
  }

  async #make(): Promise<SandboxNetwork> {
    const start = performance.now();
    try {
      return await this.#makeNow();
    } finally {
      this.#counters.namespaceSetupMs += performance.now() - start;
    }
  }

  async #makeNow(): Promise<SandboxNetwork> {
    const index = this.#free.pop() ?? this.#next++;
    if (index > 254) throw new Error('local E2B: no address left on the sandbox bridge (254 sandboxes)');
    const ns = `e2b-${this.#id}-${index}`;
    const hostVeth = `e2bh${this.#id}${index.toString(36)}`;
    const sandboxVeth = `e2bs${this.#id}${index.toString(36)}`;
    const address = `${this.#prefix}.${index}`;
    this.#live.set(ns, index);
    try {
      // Names resolve from the namespace's own files: /etc/hosts, then our DNS on the bridge.
      await mkdir(`${NETNS_ETC}/${ns}`, { recursive: true });
      await writeFile(
        `${NETNS_ETC}/${ns}/resolv.conf`,
        `nameserver ${this.hostAddress}\noptions timeout:1 attempts:2\n`,
      );
      await writeFile(`${NETNS_ETC}/${ns}/nsswitch.conf`, 'hosts: files dns\n');
      await ipBatch([
        // The host's neighbour entry for this address, if a sandbox had it before, still names that
        // sandbox's veth MAC, and REACHABLE (confirmed by its last traffic) it is used for up to 45 s
        // more, then probed: frames to a MAC no port has are dropped, so the new sandbox would be
        // unreachable for 15-50 s. Forget it; the first packet to the new sandbox asks again.
        `neigh flush to ${address} dev ${this.bridge}`,
        `netns add ${ns}`,
        `link add ${hostVeth} type veth peer name ${sandboxVeth} netns ${ns}`,
        `link set ${hostVeth} master ${this.bridge} up`,
      ]);
      await ipBatch(
        [`addr add ${address}/24 dev ${sandboxVeth}`, `link set ${sandboxVeth} up`, 'link set lo up'],
        ns,
      );
    } catch (error) {
      await this.remove(ns).catch(() => undefined);
      throw error;
    }
    return { ns, address };
  }

  /**
   * Give back an ended sandbox's namespace: kept for the next sandbox when no process is left in it
   * and there is room, deleted otherwise. It keeps its address and veth, so the host's neighbour
   * entry for that address stays right.
   */
  async release(ns: string): Promise<void> {
    const index = this.#live.get(ns);
    if (index === undefined) return;
    if (!this.#closed && this.#reused.length < this.#reuseLimit) {
      const { stdout } = await run('ip', ['netns', 'pids', ns]).catch(() => ({ stdout: 'unknown' }));
      if (stdout.trim() === '' && !this.#closed) {
        this.#reused.push({ ns, address: `${this.#prefix}.${index}` });
        return;
      }
    }
    await this.remove(ns);
  }

  /** Delete a namespace (its veth pair goes with it) and its /etc/netns files. */
  async remove(ns: string): Promise<void> {
    const index = this.#live.get(ns);
    if (index === undefined) return;
    this.#live.delete(ns);
    await run('ip', ['netns', 'delete', ns]).catch(() => undefined);
    // The host end disappears with its peer; delete it explicitly in case the namespace never got it.
    await run('ip', ['link', 'delete', `e2bh${this.#id}${index.toString(36)}`]).catch(() => undefined);
    await rm(`${NETNS_ETC}/${ns}`, { recursive: true, force: true });
    this.#free.push(index);
  }

  /** Remove every namespace and the bridge. */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all([...this.#making]);
    this.#spares.length = 0;
    this.#reused.length = 0;
    await Promise.all([...this.#live.keys()].map((ns) => this.remove(ns)));
    await run('ip', ['link', 'delete', this.bridge]).catch(() => undefined);
  }
}

/** Names of namespaces and links this machine has whose names carry `id` (for leak checks in tests). */
export async function leftovers(id: string): Promise<string[]> {
  const [{ stdout: namespaces }, { stdout: links }] = await Promise.all([
    run('ip', ['netns', 'list']),
    run('ip', ['-o', 'link', 'show']),
  ]);
  return [...namespaces.split('\n'), ...links.split('\n')]
    .map((line) => line.trim())
    .filter((line) => line.includes(id) && /e2b/.test(line));
}
