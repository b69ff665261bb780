// Builds the Confab-vs-baseline table from the JSON lines both runs printed
// and puts it into BENCHMARKS.md between <!-- compare:start --> and <!-- compare:end -->.
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';

const [confabFile, nodeFile, target] = process.argv.slice(2);
const lines = (f) => readFileSync(f, 'utf8').split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
const key = (r) => `${r.scenario} · ${r.nodes} node${r.nodes > 1 ? 's' : ''}${r.members ? ` · ${r.members} members` : ''}${r.pairs ? ` · ${r.pairs} pairs` : ''}${r.rate ? ` · open loop ${r.rate}/s` : ''}${r.sockets ? ` · ${r.sockets} sockets` : ''}${r.conversations ? ` · ${r.conversations} new conversations` : ''}${r.history ? ` · ${r.history} stored messages` : ''}`;
const confab = new Map(lines(confabFile).map((r) => [key(r), r]));
const base = new Map(lines(nodeFile).map((r) => [key(r), r]));

const rate = (r) => r.msgs_per_sec ?? r.deliveries_per_sec ?? r.connects_per_sec;
const p99 = (r) => (r.e2e_ms ?? r.to_last_member_ms ?? r.ack_ms ?? r.handshake_ms)?.p99;
const unit = (r) => (r.scenario === 'group' ? 'deliveries/s' : r.scenario === 'connections' ? 'connects/s' : 'msgs/s');
const fmt = (n, d = 0) => (n === undefined || n === null ? '—' : Number(n).toLocaleString('en-US', { maximumFractionDigits: d }));

const rows = ['| scenario | Confab | baseline (Node) | ratio | p99 ms Confab / Node | loss+dup C / N |', '|---|---|---|---|---|---|'];
for (const [k, c] of confab) {
  const n = base.get(k);
  const ratio = n && rate(n) ? `${(rate(c) / rate(n)).toFixed(1)}×` : '—';
  rows.push(`| ${k} | ${fmt(rate(c))} ${unit(c)} | ${n ? `${fmt(rate(n))} ${unit(n)}` : 'not run'} | ${ratio} | ${fmt(p99(c), 1)} / ${n ? fmt(p99(n), 1) : '—'} | ${c.lost + c.duplicated} / ${n ? n.lost + n.duplicated : '—'} |`);
}
const extra = [...confab.values()].filter((r) => r.scenario === 'connections').map((r) =>
  `Connections: ${fmt(r.connected)}/${fmt(r.sockets)} sockets, ${fmt(r.failures)} failures, handshake p50 ${fmt(r.handshake_ms.p50, 1)} ms / p99 ${fmt(r.handshake_ms.p99, 1)} ms, server ${fmt(r.server_bytes_per_socket)} bytes per socket, idle CPU ${fmt(r.server_idle_cpu_pct, 1)}% of a core.`);
const when = new Date().toISOString().slice(0, 16).replace('T', ' ');
const machine = `${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'unknown CPU'}), ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
const block = [`Run ${when} UTC on ${machine}; server, load tool, PostgreSQL and Redis on the same machine.`, '', ...rows, '', ...extra].join('\n');

const doc = readFileSync(target, 'utf8');
const start = '<!-- compare:start -->';
const end = '<!-- compare:end -->';
const next = doc.includes(start)
  ? doc.replace(new RegExp(`${start}[\\s\\S]*?${end}`), `${start}\n${block}\n${end}`)
  : `${doc.trimEnd()}\n\n## Confab vs the Node.js baseline (same run)\n\n${start}\n${block}\n${end}\n`;
writeFileSync(target, next);
console.log(block);
