// Keys over HTTP (docs/keys.md, docs/budgets.md): GET /api/keys, GET
// /api/keys/:key, PUT /api/keys/:key/limits, GET and PUT /api/keys/:key/budget,
// behind the API token like every /api route.
// A body is checked whole with zod before anything is written.
import express, { type Router } from 'express';
import type { Coordinator } from '../coordinator/coordinator.ts';
import { checkKeyName, parseKeyLimits, readKeys, readOneKey, setKeyLimits } from '../keys/keyAdmin.ts';
import { SwarmError } from '../errors.ts';
import { parseKeyBudget, readKeyBudget, setKeyBudget } from '../budgets/budgetAdmin.ts';
import { emptyQuerySchema, parseQuery } from './listQuery.ts';

export function keysRoutes(c: Coordinator): Router {
  const r = express.Router();
  r.get('/keys', async (req, res) => {
    parseQuery(emptyQuerySchema, req.query, 'GET /api/keys');
    res.json({ keys: await readKeys(c.commands, c.config.prefix) });
  });
  r.get('/keys/:key', async (req, res) => {
    res.json(await readOneKey(c.commands, c.config.prefix, checkKeyName(req.params.key)));
  });
  r.put('/keys/:key/limits', async (req, res) => {
    if (!req.is('application/json')) throw new SwarmError('unsupported_media_type', `send the limits as application/json (got ${req.headers['content-type'] ?? 'no content type'})`);
    const key = checkKeyName(req.params.key);
    const limits = parseKeyLimits(req.body);
    res.json(await setKeyLimits(c.commands, c.config.prefix, key, limits, (node) => c.router.queueFor(node)));
  });
  r.get('/keys/:key/budget', async (req, res) => {
    res.json(await readKeyBudget(c.commands, c.config.prefix, checkKeyName(req.params.key)));
  });
  r.put('/keys/:key/budget', async (req, res) => {
    if (!req.is('application/json')) throw new SwarmError('unsupported_media_type', `send the budget as application/json (got ${req.headers['content-type'] ?? 'no content type'})`);
    const key = checkKeyName(req.params.key);
    const budget = parseKeyBudget(req.body);
    res.json(await setKeyBudget(c.commands, c.config.prefix, key, budget, (node) => c.router.queueFor(node)));
  });
  return r;
}
