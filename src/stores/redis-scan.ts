/**
 * The listing of {@link RedisStore}: `SCAN` over the record keys, node by node on a Cluster.
 *
 * @module
 * @internal
 */
import type { Cluster, Redis } from 'ioredis';
import type { KeyedRecord, ListQuery, SessionPage, StoreContext, StoreRecord } from './store.js';

/** A `SCAN` pattern that matches `text` literally. */
function literal(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}

/**
 * One page of the live records whose Redis keys start with `recordBase` (the client's own
 * `keyPrefix` included): one `SCAN` step with `COUNT limit`, then the records read. The cursor is
 * `<node>:<scan cursor>`, the node an index into the Cluster's masters sorted by address (`0` on
 * one node); a Cluster whose masters change during a listing may skip or repeat keys.
 *
 * @example
 * ```ts
 * const page = await scanPage(client, 'tessera:s:', { tenant: null, cursor: null, limit: 100 }, ctx, read);
 * ```
 */
export async function scanPage(
  client: Redis | Cluster,
  recordBase: string,
  query: ListQuery,
  ctx: StoreContext,
  read: (keys: string[], ctx: StoreContext) => Promise<(StoreRecord | null)[]>,
): Promise<SessionPage> {
  const nodes: Redis[] = client.isCluster
    ? (client as Cluster).nodes('master').sort((a, b) => address(a).localeCompare(address(b)))
    : [client as Redis];
  const [nodeText, scanCursor] = (query.cursor ?? '0:0').split(':');
  const index = Number(nodeText);
  const node = nodes[index];
  if (node === undefined || !/^\d+$/.test(scanCursor ?? '')) return { records: [], next: null };
  const [nextCursor, found] = await node.scan(scanCursor!, 'MATCH', `${literal(recordBase)}*`, 'COUNT', query.limit);
  const keys = found.map((redisKey) => redisKey.slice(recordBase.length));
  // `read` adds the prefixes itself (the client adds its keyPrefix): give it the record keys.
  const records = await read(keys, ctx);
  const out: KeyedRecord[] = [];
  keys.forEach((key, i) => {
    const record = records[i];
    if (record && (query.tenant === null || record.tenant === query.tenant)) out.push({ key, record });
  });
  const next = nextCursor !== '0' ? `${index}:${nextCursor}` : index + 1 < nodes.length ? `${index + 1}:0` : null;
  return { records: out, next };
}

function address(node: Redis): string {
  return `${node.options.host ?? ''}:${node.options.port ?? ''}`;
}
