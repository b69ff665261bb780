'use strict';

const fs = require('node:fs');
const path = require('node:path');
const pg = require('pg');

// Ids and seqs are BIGINT; the API speaks JSON numbers (exact up to 2^53).
pg.types.setTypeParser(pg.types.builtins.INT8, Number);

function createPool(connectionString) {
  const pool = new pg.Pool({ connectionString, max: Number(process.env.PG_POOL_MAX || 16) });
  pool.on('error', (err) => console.error('idle PostgreSQL client error:', err.message));
  return pool;
}

/** Creates the schema; nodes starting together take turns (advisory lock). */
async function migrate(pool) {
  const sql = fs.readFileSync(path.join(__dirname, 'schema.sql'), 'utf8');
  await transaction(pool, async (client) => {
    await client.query('SELECT pg_advisory_xact_lock(4242001)');
    await client.query(sql);
  });
}

/** Runs fn(client) inside BEGIN/COMMIT on one pooled connection; rolls back on a throw. */
async function transaction(pool, fn) {
  const client = await pool.connect();
  let broken;
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch((e) => {
      broken = e;
    });
    throw err;
  } finally {
    client.release(broken);
  }
}

module.exports = { createPool, migrate, transaction };
