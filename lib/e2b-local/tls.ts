/**
 * A certificate authority made on the spot for the local edge, as E2B's edge has a public
 * certificate: one CA (valid two days) and one leaf for `*.<domain>`, the loopback and the bridge
 * address. Made with the openssl CLI (Node has no certificate builder); keys never leave `dir`.
 * Clients trust the CA through NODE_EXTRA_CA_CERTS (child processes, the CLI) or
 * tls.setDefaultCACertificates (a process already running, as tests are).
 */
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const openssl = (args: string[]) => promisify(execFile)('openssl', args);

/** The CA certificate (PEM, also at caPath) and the edge's key and certificate. */
export interface EdgeCertificates {
  caPath: string;
  caPem: string;
  key: string;
  cert: string;
}

/** Make a CA and an edge certificate for `domain` (host part, no port) and the given IPs in `dir`. */
export async function makeEdgeCertificates(
  dir: string,
  domain: string,
  ips: string[],
): Promise<EdgeCertificates> {
  const file = (name: string) => join(dir, name);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  await openssl([
    'req',
    '-x509',
    ...ec,
    '-keyout',
    file('ca.key'),
    '-out',
    file('ca.pem'),
    '-days',
    '2',
    '-subj',
    '/CN=swarm-bench local E2B CA',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  await openssl([
    'req',
    ...ec,
    '-keyout',
    file('edge.key'),
    '-out',
    file('edge.csr'),
    '-subj',
    `/CN=*.${domain}`,
  ]);
  const names = [`DNS:*.${domain}`, `DNS:${domain}`, ...ips.map((ip) => `IP:${ip}`)];
  await writeFile(
    file('edge.ext'),
    `subjectAltName=${names.join(',')}\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n`,
  );
  await openssl([
    'x509',
    '-req',
    '-in',
    file('edge.csr'),
    '-CA',
    file('ca.pem'),
    '-CAkey',
    file('ca.key'),
    '-CAcreateserial',
    '-out',
    file('edge.pem'),
    '-days',
    '2',
    '-extfile',
    file('edge.ext'),
  ]);
  const [caPem, key, cert] = await Promise.all(
    ['ca.pem', 'edge.key', 'edge.pem'].map((name) => readFile(file(name), 'utf8')),
  );
  return { caPath: file('ca.pem'), caPem: caPem as string, key: key as string, cert: cert as string };
}
