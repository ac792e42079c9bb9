package main

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestDevMode runs `partnerhub dev` as a user would: it must start its own
// Postgres, seed the demo tenant with the wallet active, write demo.env and a
// working send-event script, and stop everything on Ctrl-C (SIGINT).
func TestDevMode(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a whole dev stack")
	}
	bins, err := binaries()
	require.NoError(t, err)
	dir := tempDir(t)
	data := filepath.Join(dir, "data")
	addr := freeAddr(t)

	cmd := exec.Command(bins["partnerhub"], "dev", "--data-dir", data, "--listen", addr)
	cmd.Dir = filepath.Join("..", "..") // dev builds the wallet from the source tree
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"),
		"GOCACHE=" + goEnv(t, "GOCACHE"), "GOMODCACHE=" + goEnv(t, "GOMODCACHE"), "GOFLAGS=-mod=mod"}
	logs := &syncBuffer{}
	cmd.Stderr = logs
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("dev logs:\n%s", logs.String())
		}
	})

	ready := make(chan string, 1)
	go func() {
		var seen strings.Builder
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			seen.WriteString(sc.Text() + "\n")
			if strings.HasPrefix(sc.Text(), "Ctrl-C stops") {
				ready <- seen.String()
				return
			}
		}
	}()
	var banner string
	select {
	case banner = <-ready:
	case err := <-exited:
		t.Fatalf("dev exited early: %v", err)
	case <-time.After(120 * time.Second):
		t.Fatal("dev did not become ready in 120s")
	}
	require.Contains(t, banner, "send-event.sh")
	require.Contains(t, banner, "buy.sh")

	env, err := os.ReadFile(filepath.Join(data, "demo.env"))
	require.NoError(t, err)
	for _, k := range []string{"PARTNERHUB_URL=", "PARTNERHUB_OPERATOR_KEY=phk_", "DEMO_PARTNER_CODE=demo", "DEMO_PARTNER_ID=1", "DEMO_SIGNING_KEY=",
		"DEMO_SIMULATOR_URL=http://127.0.0.1:"} {
		require.Contains(t, string(env), k)
	}

	// The printed command, run twice for the same payment, credits once.
	for i, want := range []string{`"accepted"`, `"duplicate"`} {
		send := exec.Command("sh", filepath.Join(data, "send-event.sh"))
		send.Env = append(os.Environ(), "SAME_REFERENCE=C-DEV-1-P")
		out, err := send.CombinedOutput()
		require.NoError(t, err, string(out))
		require.Contains(t, string(out), want, "send %d", i)
	}
	walletPath := filepath.Join(data, "plugins", "work", "demo", "staging", "wallet.json")
	var w walletFile
	require.Eventually(t, func() bool {
		raw, err := os.ReadFile(walletPath)
		return err == nil && json.Unmarshal(raw, &w) == nil && len(w.Applied) == 1
	}, 30*time.Second, 100*time.Millisecond, "the demo player was not credited")
	time.Sleep(300 * time.Millisecond) // a second credit, were there one, would land by now
	raw, err := os.ReadFile(walletPath)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &w))
	require.Equal(t, map[string]string{"NGN": "100.5"}, normalise(w.Balances["42"]), "credited once")

	// The one printed command runs a whole purchase through the simulator.
	buy := exec.Command("sh", filepath.Join(data, "buy.sh"))
	buy.Env = append(os.Environ(), "PLAYER=7")
	out, err := buy.CombinedOutput()
	require.NoError(t, err, string(out))
	var purchase struct {
		Status string `json:"status"`
		Steps  []struct {
			Name, Result, Detail string
		} `json:"steps"`
	}
	require.NoError(t, json.Unmarshal(out, &purchase), string(out))
	require.Equal(t, "succeeded", purchase.Status, string(out))
	require.Len(t, purchase.Steps, 7)
	raw, err = os.ReadFile(walletPath)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &w))
	require.NotEmpty(t, w.Balances["7"], "the player of the purchase was credited")

	require.NoError(t, cmd.Process.Signal(syscall.SIGINT))
	select {
	case err := <-exited:
		require.NoError(t, err, "dev should exit cleanly on Ctrl-C")
	case <-time.After(60 * time.Second):
		t.Fatal("dev did not stop within 60s of SIGINT")
	}
	require.Contains(t, logs.String(), "postgres stopped")
	_, err = os.Stat(filepath.Join(data, "postgres", "data", "postmaster.pid"))
	require.ErrorIs(t, err, os.ErrNotExist, "Postgres is stopped")
	require.Empty(t, processesUnder(t, data), "no plugin process outlives dev")
}

func goEnv(t *testing.T, key string) string {
	t.Helper()
	out, err := exec.Command("go", "env", key).Output()
	require.NoError(t, err)
	return strings.TrimSpace(string(out))
}
