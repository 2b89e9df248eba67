/**
 * A minimal Prometheus exporter: parses `HOST:PORT` (loopback when only a port is given), serves the
 * text exposition format at /metrics, and renders metric families.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A parsed listen address. */
export interface ListenAddress {
  host: string;
  port: number;
}

/** Parses `PORT`, `:PORT`, `HOST:PORT` or `[IPv6]:PORT`; the host defaults to 127.0.0.1 (never all interfaces by accident). */
export function parseListenAddress(spec: string): ListenAddress {
  const text = spec.trim();
  const m = /^\d+$/.test(text) ? [text, undefined, '', text] : /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d+)$/.exec(text);
  if (!m) throw new RangeError(`expected HOST:PORT, :PORT or PORT, got "${spec}"`);
  const port = Number(m[3]);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new RangeError(`port must be 0..65535, got ${m[3]}`);
  const host = m[1] ?? (m[2] || '127.0.0.1');
  return { host, port };
}

/** One sample of a metric family. */
export interface Sample {
  labels: Record<string, string>;
  value: number;
}
/** A metric family in the text format. */
export interface MetricFamily {
  name: string;
  help: string;
  type: 'counter' | 'gauge';
  samples: Sample[];
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

/** Renders families in the Prometheus text exposition format (version 0.0.4). */
export function renderMetrics(families: MetricFamily[]): string {
  const out: string[] = [];
  for (const f of families) {
    out.push(`# HELP ${f.name} ${f.help}`, `# TYPE ${f.name} ${f.type}`);
    for (const s of f.samples) {
      const labels = Object.entries(s.labels)
        .map(([k, v]) => `${k}="${escapeLabel(v)}"`)
        .join(',');
      out.push(`${f.name}${labels ? `{${labels}}` : ''} ${Number.isFinite(s.value) ? s.value : 'NaN'}`);
    }
  }
  return `${out.join('\n')}\n`;
}

/** A running exporter. */
export interface Exporter {
  /** `http://host:port/metrics` with the bound port. */
  readonly url: string;
  readonly address: ListenAddress;
  close(): Promise<void>;
}

/** Serves `render()` at /metrics (and /), 404 elsewhere. */
export async function serveMetrics(address: ListenAddress, render: () => string): Promise<Exporter> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path !== '/metrics' && path !== '/') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found; metrics are at /metrics\n');
      return;
    }
    let body: string;
    try {
      body = render();
    } catch (e) {
      res.writeHead(500, { 'content-type': 'text/plain' }).end(`${(e as Error).message}\n`);
      return;
    }
    res
      .writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' })
      .end(req.method === 'HEAD' ? undefined : body);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(address.port, address.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = server.address() as AddressInfo;
  const host = bound.family === 'IPv6' ? `[${bound.address}]` : bound.address;
  return {
    url: `http://${host}:${bound.port}/metrics`,
    address: { host: bound.address, port: bound.port },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}
