package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/partnerhub/partnerhub/internal/config"
	"github.com/partnerhub/partnerhub/internal/pgtest"
	"github.com/partnerhub/partnerhub/pay1st"
	"github.com/partnerhub/partnerhub/payment"
	"github.com/partnerhub/partnerhub/tenant"
)

// crashEnv makes a dead node's jobs come back quickly: River rescues a job
// once it has been running for PARTNERHUB_JOB_RESCUE_AFTER, which may not be
// less than the longer job timeout (plugin start + call timeout + 10s; a
// fulfilment report's, Pay1st timeout × attempts + 10s) plus a minute.
var crashEnv = []string{
	"PARTNERHUB_PLUGIN_START_TIMEOUT=3s",
	"PARTNERHUB_PLUGIN_CALL_TIMEOUT=2s",
	"PARTNERHUB_PAY1ST_TIMEOUT=1s",
	"PARTNERHUB_PAY1ST_MAX_ATTEMPTS=1",
	"PARTNERHUB_JOB_RESCUE_AFTER=75s",
	"PARTNERHUB_LOG_LEVEL=info",
}

// startPeer starts another `partnerhub serve` with s's environment (same
// database, secret key and data directory: the plugin's working directory
// is shared, as on nodes sharing a volume) on its own address.
func (s *server) startPeer(t testing.TB) *server {
	t.Helper()
	bins, err := binaries()
	require.NoError(t, err)
	addr := freeAddr(t)
	p := &server{
		url: "http://" + addr, operatorKey: s.operatorKey, dataDir: s.dataDir,
		pool: s.pool, tenants: s.tenants, registry: s.registry,
		logs: &syncBuffer{}, exited: make(chan error, 1),
		env: append(append([]string(nil), s.env...), "PARTNERHUB_LISTEN="+addr), // the last one counts
	}
	p.cmd = exec.Command(bins["partnerhub"], "serve")
	p.cmd.Env = p.env
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	require.NoError(t, p.cmd.Start())
	go func() { p.exited <- p.cmd.Wait() }()
	t.Cleanup(func() {
		p.stop(t)
		if t.Failed() {
			t.Logf("peer logs:\n%s", p.logs.String())
		}
	})
	require.Eventually(t, func() bool {
		resp, err := http.Get(p.url + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 20*time.Second, 50*time.Millisecond, "peer did not become ready")
	return p
}

// kill ends the process with SIGKILL: no shutdown, no cleanup.
func (s *server) kill(t testing.TB) {
	t.Helper()
	require.NoError(t, s.cmd.Process.Signal(syscall.SIGKILL))
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		t.Fatal("killed server did not exit")
	}
}

// post sends a signed SUCCESSFUL event and reports whether it was
// acknowledged. Unlike send it tolerates a dead server.
func (s *server) post(client *http.Client, code, key string, id int64, reference string, customer int64) (bool, error) {
	body := sampleEvent(code, id, reference, customer)
	ts := time.Now().UTC().Format(time.RFC3339Nano)
	req, err := http.NewRequest(http.MethodPost, s.url+"/pay1st/staging/"+code+"/payment-events", bytes.NewReader(body))
	if err != nil {
		return false, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(pay1st.HeaderTimestamp, ts)
	req.Header.Set(pay1st.HeaderSignature, pay1st.SignRequest(key, ts, body))
	resp, err := client.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return false, err
	}
	var out struct{ Status string }
	_ = json.Unmarshal(raw, &out)
	if resp.StatusCode != http.StatusOK || (out.Status != "accepted" && out.Status != "duplicate") {
		return false, fmt.Errorf("status %d: %s", resp.StatusCode, raw)
	}
	return true, nil
}

// riverClientOf is the River client that last attempted reference's fulfil.
func (s *server) riverClientOf(t testing.TB, reference string) string {
	t.Helper()
	var id string
	require.NoError(t, s.pool.QueryRow(context.Background(), `SELECT attempted_by[array_length(attempted_by, 1)]
		FROM river_job WHERE kind = 'fulfil' AND args->>'reference' = $1`, reference).Scan(&id))
	return id
}

// running counts fulfil jobs running whose last attempt is clientID's.
func (s *server) running(t testing.TB, clientID string) int {
	t.Helper()
	var n int
	require.NoError(t, s.pool.QueryRow(context.Background(), `SELECT count(*) FROM river_job
		WHERE kind = 'fulfil' AND state = 'running' AND attempted_by[array_length(attempted_by, 1)] = $1`, clientID).Scan(&n))
	return n
}

// crashLoad sends one event every interval, alternating between nodes,
// each to a new customer (so each payment credits its own player), and
// records what was acknowledged.
type crashLoad struct {
	mu    sync.Mutex
	sent  map[string]int64 // reference -> customer, every event sent
	acked map[string]bool  // references answered 200
	fails int
}

func (l *crashLoad) run(ctx context.Context, nodes []*server, code, key string, id int64, interval time.Duration) {
	client := &http.Client{Timeout: 5 * time.Second}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		ref := fmt.Sprintf("C-CRASH-%05d-P", i)
		customer := int64(100000 + i)
		node := nodes[i%len(nodes)]
		l.mu.Lock()
		l.sent[ref] = customer
		l.mu.Unlock()
		wg.Go(func() {
			ok, _ := node.post(client, code, key, id, ref, customer)
			l.mu.Lock()
			defer l.mu.Unlock()
			if ok {
				l.acked[ref] = true
			} else {
				l.fails++
			}
		})
	}
}

// crashWallet is the wallet plugin's ledger, with the payment of each entry.
type crashWallet struct {
	Balances map[string]map[string]string `json:"balances"`
	Applied  map[string]struct {
		Kind    string `json:"kind"`
		Player  string `json:"player"`
		Payment string `json:"payment"`
	} `json:"applied"`
}

// TestCrashFulfilsEveryAcknowledgedEventOnce: two `partnerhub serve` nodes on
// one database share a steady webhook load; the River leader is killed with
// SIGKILL while it has fulfilments in flight. The survivor takes over
// leadership, River rescues the dead node's jobs, and in the end every
// acknowledged event is credited in the wallet exactly once, with no other
// credit: the plugin got the same idempotency key on the retry and the
// wallet (one data directory, a process per node) locked its file.
func TestCrashFulfilsEveryAcknowledgedEventOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test: about two minutes")
	}
	const code, id = "crash", 7007
	// Registered first, so it runs after both servers have stopped.
	var dataDir string
	t.Cleanup(func() {
		if dataDir != "" {
			killOrphans(t, dataDir)
		}
	})
	a := startServer(t, crashEnv...)
	dataDir = a.dataDir
	key := a.createTenant(t, code, id)
	a.activateWallet(t, code)

	// A runs alone first: it is the River leader, and its client id is in
	// the warm-up job (so the test knows which running jobs are A's).
	status, out := a.sendEvent(t, code, id, key, "C-CRASH-WARM-P")
	require.Equal(t, http.StatusOK, status, out)
	require.Eventually(t, func() bool { return a.fulfilmentState(t, "C-CRASH-WARM-P") == payment.StateSucceeded },
		20*time.Second, 20*time.Millisecond, "warm-up fulfilment")
	aID := a.riverClientOf(t, "C-CRASH-WARM-P")
	require.Eventually(t, func() bool {
		var leader string
		err := a.pool.QueryRow(context.Background(), `SELECT leader_id FROM river_leader`).Scan(&leader)
		return err == nil && leader == aID
	}, 20*time.Second, 50*time.Millisecond, "A leads")

	b := a.startPeer(t)

	load := &crashLoad{sent: map[string]int64{}, acked: map[string]bool{}}
	ctx, stopLoad := context.WithCancel(context.Background())
	loadDone := make(chan struct{})
	go func() {
		defer close(loadDone)
		load.run(ctx, []*server{a, b}, code, key, id, 10*time.Millisecond) // 100 events/s
	}()
	t.Cleanup(func() { stopLoad(); <-loadDone })

	// Let the load settle on both nodes, then kill A the moment it is in
	// the middle of fulfilments.
	time.Sleep(2 * time.Second)
	require.Eventually(t, func() bool { return a.running(t, aID) > 0 }, 10*time.Second, time.Millisecond,
		"A never had a fulfilment in flight")
	a.kill(t)
	killedAt := time.Now()
	orphans := a.running(t, aID)
	require.Positive(t, orphans, "the kill caught fulfilments in flight")
	// A SIGKILL does not abort statements A had already sent: a batch of
	// River completions in flight still commits a moment later. The jobs
	// still running on A once that has settled are the true orphans, left
	// for River's rescuer (the wallet check below proves exactly-once for
	// all of them either way).
	stuck := -1
	require.Eventually(t, func() bool {
		n := a.running(t, aID)
		settled := n == stuck
		stuck = n
		return settled
	}, 10*time.Second, 500*time.Millisecond, "A's last statements settle")
	require.Eventually(t, func() bool { return len(pluginsOutside(t, a.dataDir, b.cmd.Process.Pid)) == 0 },
		10*time.Second, 50*time.Millisecond, "the dead node's plugin processes die with it")

	time.Sleep(2 * time.Second) // B alone carries the load for a while
	stopLoad()
	<-loadDone

	load.mu.Lock()
	sent, acked, fails := len(load.sent), len(load.acked), load.fails
	load.mu.Unlock()
	t.Logf("sent %d events, %d acknowledged, %d not (A dead); %d fulfilments in flight on A when killed, %d still running once its last statements settled",
		sent, acked, fails, orphans, stuck)
	require.Greater(t, acked, 200, "a steady load")

	// Every job ends completed: the survivor works its share, then River
	// rescues A's orphans once they have run for PARTNERHUB_JOB_RESCUE_AFTER.
	require.Eventually(t, func() bool {
		var left int
		require.NoError(t, b.pool.QueryRow(context.Background(),
			`SELECT count(*) FROM river_job WHERE kind = 'fulfil' AND state <> 'completed'`).Scan(&left))
		return left == 0
	}, 150*time.Second, 200*time.Millisecond, "every fulfil job completes (rescued ones included)")
	t.Logf("all fulfilments done %s after the kill", time.Since(killedAt).Round(time.Second))

	var rescued int
	require.NoError(t, b.pool.QueryRow(context.Background(), `SELECT count(*) FROM river_job
		WHERE kind = 'fulfil' AND $1 = ANY(attempted_by) AND attempted_by[array_length(attempted_by, 1)] <> $1`, aID).Scan(&rescued))
	require.GreaterOrEqual(t, rescued, stuck, "A's orphans were finished by B")

	// The wallet: one entry per payment the database holds, every one a
	// fulfil of an event sent, crediting its own player exactly once.
	raw, err := os.ReadFile(filepath.Join(a.dataDir, "plugins", "work", code, tenant.Staging, "wallet.json"))
	require.NoError(t, err)
	var w crashWallet
	require.NoError(t, json.Unmarshal(raw, &w))

	byPayment := map[string]int{}
	for k, e := range w.Applied {
		require.Equal(t, "fulfil", e.Kind, k)
		require.Equal(t, payment.IdempotencyKey(code, tenant.Staging, e.Payment, payment.KindFulfil), k,
			"the stable idempotency key of its payment")
		byPayment[e.Payment]++
	}
	load.mu.Lock()
	defer load.mu.Unlock()
	for ref := range load.acked {
		require.Equal(t, 1, byPayment[ref], "acknowledged %s credited exactly once", ref)
		player := strconv.FormatInt(load.sent[ref], 10)
		require.Equal(t, map[string]string{"NGN": "100.5"}, normalise(w.Balances[player]), "balance of %s (%s)", player, ref)
	}
	for ref, n := range byPayment {
		_, wasSent := load.sent[ref]
		require.True(t, wasSent || ref == "C-CRASH-WARM-P", "credit for %s, never sent", ref)
		require.Equal(t, 1, n)
	}
	require.Len(t, w.Balances, len(w.Applied), "no player credited twice or without an entry")

	var payments, succeeded int
	require.NoError(t, b.pool.QueryRow(context.Background(), `SELECT count(*), count(*) FILTER (WHERE f.state = $1)
		FROM payments p JOIN fulfilments f ON f.payment_id = p.id`, payment.StateSucceeded).Scan(&payments, &succeeded))
	require.Equal(t, payments, succeeded, "every stored payment fulfilled")
	require.Len(t, w.Applied, payments, "and credited once: acknowledged ones and those whose answer A never sent")
}

// TestServeRefusesRescueBeforeJobTimeout: River would take a job still
// running on a live node for abandoned; serve says so instead of starting.
func TestServeRefusesRescueBeforeJobTimeout(t *testing.T) {
	t.Parallel()
	env := map[string]string{
		"PARTNERHUB_DATABASE_URL":         pgtest.NewURL(t),
		"PARTNERHUB_SECRET_KEY":           base64.StdEncoding.EncodeToString(make([]byte, 32)),
		"PARTNERHUB_LISTEN":               "127.0.0.1:0",
		"PARTNERHUB_DATA_DIR":             t.TempDir(),
		"PARTNERHUB_PLUGIN_START_TIMEOUT": "10s",
		"PARTNERHUB_PLUGIN_CALL_TIMEOUT":  "30s",
		"PARTNERHUB_JOB_RESCUE_AFTER":     "1m49s", // job timeout: 10s + 30s + 10s; plus a minute
		"PARTNERHUB_PAY1ST_TIMEOUT":       "1s",    // a report's job timeout: 1s + 10s
		"PARTNERHUB_PAY1ST_MAX_ATTEMPTS":  "1",
	}
	cfg, err := config.Load("serve", nil, func(k string) string { return env[k] })
	require.NoError(t, err)
	err = serve(t.Context(), cfg, slog.New(slog.DiscardHandler), func(services, net.Addr) error {
		return errors.New("serve started")
	})
	require.ErrorIs(t, err, config.ErrInvalid)
	require.ErrorContains(t, err, "PARTNERHUB_JOB_RESCUE_AFTER (1m49s) must be at least the longer job timeout plus a minute, 1m50s")

	// With Pay1st's default timeout and attempts, the report's job timeout
	// (4 × 15s + 3 × 5s backoff + 10s) is the longer one.
	delete(env, "PARTNERHUB_PAY1ST_TIMEOUT")
	delete(env, "PARTNERHUB_PAY1ST_MAX_ATTEMPTS")
	env["PARTNERHUB_JOB_RESCUE_AFTER"] = "2m24s"
	cfg, err = config.Load("serve", nil, func(k string) string { return env[k] })
	require.NoError(t, err)
	err = serve(t.Context(), cfg, slog.New(slog.DiscardHandler), func(services, net.Addr) error {
		return errors.New("serve started")
	})
	require.ErrorIs(t, err, config.ErrInvalid)
	require.ErrorContains(t, err, "PARTNERHUB_JOB_RESCUE_AFTER (2m24s) must be at least the longer job timeout plus a minute, 2m25s")
}

// killOrphans kills plugin processes run from dir's plugin cache that
// outlived every server: the SIGKILLed node's, unless its host made the
// kernel end them with it.
func killOrphans(t testing.TB, dir string) {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		exe, err := os.Readlink(filepath.Join("/proc", e.Name(), "exe"))
		if err != nil || !strings.HasPrefix(exe, dir) {
			continue
		}
		t.Logf("plugin process %d (%s) outlived its server; killing it", pid, exe)
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}

// pluginsOutside lists processes run from dir (the plugin cache) that are
// not descendants of process root: a dead node's plugins.
func pluginsOutside(t testing.TB, dir string, root int) []string {
	t.Helper()
	var found []string
	for _, p := range processesUnder(t, dir) {
		pid, err := strconv.Atoi(strings.Fields(p)[0])
		require.NoError(t, err)
		if !descendsFrom(pid, root) {
			found = append(found, p)
		}
	}
	return found
}

// descendsFrom reports whether root is an ancestor of pid, per /proc.
func descendsFrom(pid, root int) bool {
	for pid > 1 {
		stat, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
		if err != nil {
			return false
		}
		// "pid (comm) state ppid ...": comm may contain spaces; skip past ')'.
		rest := string(stat)
		if i := strings.LastIndexByte(rest, ')'); i >= 0 {
			rest = rest[i+1:]
		}
		fields := strings.Fields(rest)
		if len(fields) < 2 {
			return false
		}
		ppid, err := strconv.Atoi(fields[1])
		if err != nil {
			return false
		}
		if ppid == root {
			return true
		}
		pid = ppid
	}
	return false
}
