#!/usr/bin/env bash
# End-to-end smoke test of the Ponder indexer against `poc devnet` (not part of the root `npm test`).
#
#   cd indexer/ponder && npm install --no-audit --no-fund && bash scripts/smoke.sh
#
# Starts `poc devnet` on its own ports (it deploys and writes ignition/deployments/chain-31337/
# poc-deployment.json, which ponder.config.ts reads), opens a job through the devnet gateway, challenges
# it, runs `ponder start` on a fresh PGlite directory and polls GraphQL until the job is settled with its
# stage and payouts; then stops both. Exit 0 when the indexer saw what the gateway reported.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
RPC_PORT="${RPC_PORT:-28545}"
GEN_PORT="${GEN_PORT:-28546}"
DASH_PORT="${DASH_PORT:-28011}"
GW_PORT="${GW_PORT:-28010}"
PONDER_PORT="${PONDER_PORT:-28069}"
WORK="$(mktemp -d /tmp/poc-ponder-smoke.XXXXXX)"
export DO_NOT_TRACK=1 PONDER_TELEMETRY_DISABLED=true

[ -x "$HERE/node_modules/.bin/ponder" ] || { echo "smoke: run npm install in $HERE first" >&2; exit 2; }

DEVNET_PID="" PONDER_PID=""
cleanup() {
  [ -n "$PONDER_PID" ] && kill -INT "$PONDER_PID" 2>/dev/null || true
  [ -n "$DEVNET_PID" ] && kill -INT "$DEVNET_PID" 2>/dev/null || true
  sleep 3
  [ -n "$PONDER_PID" ] && kill "$PONDER_PID" 2>/dev/null || true
  [ -n "$DEVNET_PID" ] && kill "$DEVNET_PID" 2>/dev/null || true
}
trap cleanup EXIT

echo "smoke: starting poc devnet (rpc :$RPC_PORT, gateway :$GW_PORT), logs $WORK/devnet.log"
(cd "$ROOT" && exec node bin/poc.js devnet --rpc-port "$RPC_PORT" --generator-port "$GEN_PORT" \
  --dashboard-port "$DASH_PORT" --gateway-port "$GW_PORT" --dir "$WORK/devnet") >"$WORK/devnet.log" 2>&1 &
DEVNET_PID=$!
for _ in $(seq 1 240); do
  grep -q "Ctrl-C stops everything" "$WORK/devnet.log" && break
  kill -0 "$DEVNET_PID" 2>/dev/null || { echo "smoke: devnet exited" >&2; tail -20 "$WORK/devnet.log" >&2; exit 1; }
  sleep 1
done
grep -q "Ctrl-C stops everything" "$WORK/devnet.log" || { echo "smoke: devnet not ready after 240 s" >&2; exit 1; }
grep -E "^chain |^GeneratorRegistry " "$WORK/devnet.log"

echo "smoke: opening a job through the gateway"
REPLY="$(curl -sf -m 120 "127.0.0.1:$GW_PORT/v1/chat/completions" -H 'content-type: application/json' \
  -d '{"model":"tiny-seed0","messages":[{"role":"user","content":"Hi"}],"max_tokens":8}')"
JOB="$(node -e 'const r=JSON.parse(process.argv[1]).proof_of_cache; console.log(r.jobId)' "$REPLY")"
ROOT_HASH="$(node -e 'console.log(JSON.parse(process.argv[1]).proof_of_cache.receiptRoot)' "$REPLY")"
echo "smoke: gateway opened job $JOB, receipt root $ROOT_HASH"

echo "smoke: challenging job $JOB (the devnet's verifier workers draw and verify it)"
(cd "$ROOT" && node bin/poc.js job challenge "$JOB" --rpc "http://127.0.0.1:$RPC_PORT" --account 1) | head -3

echo "smoke: starting ponder (GraphQL :$PONDER_PORT), logs $WORK/ponder.log"
(cd "$HERE" && PONDER_RPC_URL_31337="http://127.0.0.1:$RPC_PORT" PONDER_PGLITE_DIR="$WORK/pglite" \
  exec ./node_modules/.bin/ponder start --schema smoke --port "$PONDER_PORT") >"$WORK/ponder.log" 2>&1 &
PONDER_PID=$!

Q='{"query":"{ jobs(id: \"'"$JOB"'\") { id stateName user generator stage verifier receiptRoot numChecks challenged settlement outcome userPayout generatorPayout stages { items { stage verifier status stake resultHash generatorDistance } } payouts { items { role account amount } } } generatorss { items { address listed pricePerToken endpoint jobs finalized upheld slashed forfeited skipped } } verifierss { totalCount } }"}'
OUT=""
for _ in $(seq 1 180); do
  OUT="$(curl -sf -m 5 "127.0.0.1:$PONDER_PORT/graphql" -H 'content-type: application/json' -d "$Q" || true)"
  if [ -n "$OUT" ] && node -e '
    const d = JSON.parse(process.argv[1]).data, j = d.jobs;
    const counted = d.generatorss.items.some((g) => g.finalized + g.upheld + g.slashed > 0 || g.jobs > 1);
    process.exit(j && j.settlement && counted ? 0 : 1)' "$OUT" 2>/dev/null; then
    break
  fi
  kill -0 "$PONDER_PID" 2>/dev/null || { echo "smoke: ponder exited" >&2; tail -20 "$WORK/ponder.log" >&2; exit 1; }
  sleep 1
done
grep -E "Created database tables|Indexed block range|Completed backfill" "$WORK/ponder.log" | sed 's/^/ponder: /' || true
echo "smoke: GraphQL answered:"
node -e 'console.log(JSON.stringify(JSON.parse(process.argv[1]).data, null, 2))' "$OUT"

node -e '
const d = JSON.parse(process.argv[1]).data, job = d.jobs, root = process.argv[2];
const fail = (m) => { console.error("smoke: FAIL: " + m); process.exit(1); };
if (!job) fail("job not indexed");
if (job.receiptRoot !== root) fail("receipt root " + job.receiptRoot + " != gateway " + root);
if (!job.challenged || !job.settlement) fail("job not challenged and settled");
if (job.stages.items.length === 0) fail("no stage indexed");
if (job.payouts.items.length === 0) fail("no payout indexed");
if (d.verifierss.totalCount < 4) fail("fewer than 4 bonded verifiers");
const g = d.generatorss.items.find((x) => x.address === job.generator);
if (!g || !g.listed || g.jobs < 1) fail("the job generator is not listed with a job");
const field = { 5: "finalized", 7: "upheld", 8: "slashed" }[job.outcome];
if (field && g[field] < 1) fail("the generator record does not count the outcome (" + field + ")");
console.log("smoke: OK: job " + job.id + " " + job.stateName + " (outcome " + job.outcome + "), " + job.stages.items.length + " stage(s), " + job.payouts.items.length + " payout(s)");
' "$OUT" "$ROOT_HASH"
