package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/partnerhub/partnerhub/payment"
	"github.com/partnerhub/partnerhub/plugins/plugintest"
)

// studioCLI runs the built `partnerhub ARGS...` against s with key (through
// PARTNERHUB_URL and PARTNERHUB_KEY) and returns its exit code, stdout and
// stderr.
func studioCLI(t *testing.T, s *server, key string, args ...string) (int, string, string) {
	t.Helper()
	bins, err := binaries()
	require.NoError(t, err)
	cmd := exec.Command(bins["partnerhub"], args...)
	cmd.Env = []string{"PARTNERHUB_URL=" + s.url, "PARTNERHUB_KEY=" + key}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exit.ExitCode(), stdout.String(), stderr.String()
	}
	require.NoError(t, err)
	return 0, stdout.String(), stderr.String()
}

// studioJSON runs the CLI with --output json, requires exit 0 and decodes
// stdout into out.
func studioJSON(t *testing.T, s *server, out any, args ...string) {
	t.Helper()
	code, stdout, stderr := studioCLI(t, s, s.operatorKey, append(args, "--output", "json")...)
	require.Equal(t, 0, code, "stdout: %s\nstderr: %s", stdout, stderr)
	require.NoError(t, json.Unmarshal([]byte(stdout), out), stdout)
}

// fulfilmentsJSON is `fulfilments list --output json`.
type fulfilmentsJSON []struct {
	ID        int64  `json:"id"`
	State     string `json:"state"`
	Reference string `json:"reference"`
	Attempts  int    `json:"attempts"`
	LastError string `json:"lastError"`
}

// TestCLIStudio drives a real server with the studio verbs of the built
// binary, one server for every step: push and activate the wallet plugin,
// a payment it fulfils listed and shown with its timeline, a failed
// fulfilment retried by hand (single and bulk), test transactions, JSON
// output and the exit codes of 404, a wrong key and bad usage.
func TestCLIStudio(t *testing.T) {
	g := startGatewayStack(t, "studio", 4042)
	s := g.server
	bins, err := binaries()
	require.NoError(t, err)
	var pushedID int64

	t.Run("push and activate", func(t *testing.T) {
		code, stdout, stderr := studioCLI(t, s, s.operatorKey, "plugin", "push", "--tenant", "studio", "--name", "wallet",
			"--version", "2.0.0", "--activate", "staging", bins["wallet"])
		require.Equal(t, 0, code, "stdout: %s\nstderr: %s", stdout, stderr)
		require.Contains(t, stdout, "uploaded plugin ")
		require.Contains(t, stdout, "active in staging: plugin ")
		require.Contains(t, stdout, "protocol 1")
		require.Contains(t, stdout, "to roll back, partnerhub plugin activate", "the stack's wallet 1.0.0 was active before")
		require.NotContains(t, stderr, "[#", "no progress bar when stderr is not a terminal")

		var active struct {
			Plugin struct {
				ID      int64  `json:"id"`
				Version string `json:"version"`
			} `json:"plugin"`
		}
		studioJSON(t, s, &active, "plugin", "active", "--tenant", "studio")
		require.Equal(t, "2.0.0", active.Plugin.Version)
		pushedID = active.Plugin.ID

		code, stdout, _ = studioCLI(t, s, s.operatorKey, "plugin", "push", "--tenant", "studio", "--name", "wallet",
			"--version", "2.0.0", bins["wallet"])
		require.Equal(t, 0, code)
		require.Contains(t, stdout, fmt.Sprintf("already uploaded plugin %d", pushedID))

		var pushed struct {
			Plugin struct {
				ID int64 `json:"id"`
			} `json:"plugin"`
			Created bool `json:"created"`
		}
		studioJSON(t, s, &pushed, "plugin", "push", "--tenant", "studio", "--name", "wallet", "--version", "2.0.0", bins["wallet"])
		require.Equal(t, pushedID, pushed.Plugin.ID)
		require.False(t, pushed.Created)

		// On a terminal (script(1) gives the CLI one), the bar is drawn.
		if scriptBin, err := exec.LookPath("script"); err == nil {
			cmd := exec.Command(scriptBin, "-qec", bins["partnerhub"]+" plugin push --tenant studio --name wallet --version 2.0.0 "+
				bins["wallet"], "/dev/null")
			cmd.Env = []string{"PARTNERHUB_URL=" + s.url, "PARTNERHUB_KEY=" + s.operatorKey, "TERM=dumb"}
			out, err := cmd.CombinedOutput()
			require.NoError(t, err, string(out))
			require.Contains(t, string(out), "\ruploading wallet 2.0.0 [##############################] 100% ")
		} else {
			t.Log("no script(1): the progress bar on a terminal is not checked end to end")
		}

		broken := filepath.Join(tempDir(t), "broken")
		require.NoError(t, os.WriteFile(broken, []byte("#!/bin/sh\necho nope\n"), 0o755))
		code, stdout, stderr = studioCLI(t, s, s.operatorKey, "plugin", "push", "--tenant", "studio", "--name", "wallet",
			"--version", "2.0.0", broken)
		require.Equal(t, 4, code, "same version, other bytes: refused")
		require.Contains(t, stderr, "409")
		require.Empty(t, stdout)

		code, _, stderr = studioCLI(t, s, s.operatorKey, "plugin", "push", "--tenant", "studio", "--name", "broken",
			"--version", "1", "--activate", "staging", broken)
		require.Equal(t, 4, code)
		require.Contains(t, stderr, "handshake")
		require.Contains(t, stderr, "previous plugin stays active")

		var list []struct {
			ID       int64    `json:"id"`
			Name     string   `json:"name"`
			ActiveIn []string `json:"activeIn"`
		}
		studioJSON(t, s, &list, "plugin", "list", "--tenant", "studio")
		require.Len(t, list, 3, "wallet 1.0.0 (the stack's), 2.0.0 and broken")
		brokenID := list[2].ID
		require.Equal(t, "broken", list[2].Name)
		require.Equal(t, []string{"staging"}, list[1].ActiveIn)

		code, _, stderr = studioCLI(t, s, s.operatorKey, "plugin", "delete", "--tenant", "studio", strconv.FormatInt(pushedID, 10))
		require.Equal(t, 4, code, "an active plugin is not deleted: %s", stderr)
		code, stdout, _ = studioCLI(t, s, s.operatorKey, "plugin", "delete", "--tenant", "studio", strconv.FormatInt(brokenID, 10))
		require.Equal(t, 0, code)
		require.Contains(t, stdout, "deleted plugin")
		code, _, _ = studioCLI(t, s, s.operatorKey, "plugin", "show", "--tenant", "studio", strconv.FormatInt(brokenID, 10))
		require.Equal(t, 3, code, "gone")
	})

	t.Run("payments list and show", func(t *testing.T) {
		require.NotZero(t, pushedID)
		status, out := s.sendEvent(t, "studio", 4042, g.creds.SigningKey, "C-STUDIO-1-P")
		require.Equal(t, http.StatusOK, status, out)
		require.Eventually(t, func() bool { return s.fulfilmentState(t, "C-STUDIO-1-P") == payment.StateSucceeded },
			20*time.Second, 50*time.Millisecond, "the pushed plugin fulfils")

		code, stdout, stderr := studioCLI(t, s, s.operatorKey, "payments", "list", "--tenant", "studio")
		require.Equal(t, 0, code, stderr)
		require.Regexp(t, `C-STUDIO-1-P\s+SUCCESSFUL\s+100.5\s+NGN\s+77\s+order-C-STUDIO-1-P\s+no`, stdout)

		var page []struct {
			Reference string `json:"reference"`
			Status    string `json:"status"`
		}
		studioJSON(t, s, &page, "payments", "list", "--tenant", "studio", "--all", "--customer", "77")
		require.Len(t, page, 1)
		require.Equal(t, "C-STUDIO-1-P", page[0].Reference)
		studioJSON(t, s, &page, "payments", "list", "--tenant", "studio", "--status", "FAILED")
		require.Empty(t, page)

		code, stdout, stderr = studioCLI(t, s, s.operatorKey, "payments", "show", "--tenant", "studio", "C-STUDIO-1-P")
		require.Equal(t, 0, code, stderr)
		for _, want := range []string{
			"status             SUCCESSFUL",
			"fulfil             succeeded after 1 attempt(s)",
			"timeline (UTC):",
			"payment  first heard of: 100.5 NGN, customer 77",
			"request  #",
			"payment_event accepted, answered 200",
			"event    SUCCESSFUL (updated 2026-03-17 08:11:52Z) applied [request #",
			fmt.Sprintf("fulfil   attempt 1 started (plugin %d)", pushedID),
			"fulfil   attempt 1 succeeded",
			"fulfil   succeeded, the plugin's reference wallet-",
		} {
			require.Contains(t, stdout, want)
		}

		var tl struct {
			Reference string `json:"reference"`
			Events    []struct {
				Status     string `json:"status"`
				Applied    bool   `json:"applied"`
				DeliveryID int64  `json:"deliveryId"`
			} `json:"events"`
			Fulfilments []struct {
				History []struct {
					PluginID int64 `json:"pluginId"`
				} `json:"history"`
			} `json:"fulfilments"`
		}
		studioJSON(t, s, &tl, "payments", "show", "--tenant", "studio", "C-STUDIO-1-P")
		require.Equal(t, "C-STUDIO-1-P", tl.Reference)
		require.Len(t, tl.Events, 1)
		require.True(t, tl.Events[0].Applied, "the API's own timeline fields survive in JSON")
		require.NotZero(t, tl.Events[0].DeliveryID)
		require.Equal(t, pushedID, tl.Fulfilments[0].History[0].PluginID, "fulfilled by the pushed plugin")
	})

	t.Run("failed fulfilment retried", func(t *testing.T) {
		require.NotZero(t, pushedID)
		// The script plugin rejects customer 2 ("player banned").
		script := filepath.Join(tempDir(t), "script")
		require.NoError(t, os.WriteFile(script, plugintest.Build(t, "github.com/partnerhub/partnerhub/jobs/testdata/scriptplugin").Bytes, 0o755))
		code, stdout, stderr := studioCLI(t, s, s.operatorKey, "plugin", "push", "--tenant", "studio", "--name", "script",
			"--version", "1", "--activate", "staging", script)
		require.Equal(t, 0, code, "stdout: %s\nstderr: %s", stdout, stderr)

		status, out := s.send(t, "studio", g.creds.SigningKey, sampleEvent("studio", 4042, "C-STUDIO-2-P", 2))
		require.Equal(t, http.StatusOK, status, out)
		require.Eventually(t, func() bool { return s.fulfilmentState(t, "C-STUDIO-2-P") == payment.StateFailed },
			20*time.Second, 50*time.Millisecond, "rejected: failed at once")

		var failed fulfilmentsJSON
		studioJSON(t, s, &failed, "fulfilments", "list", "--tenant", "studio", "--state", "failed")
		require.Len(t, failed, 1)
		f := failed[0]
		require.Equal(t, "C-STUDIO-2-P", f.Reference)
		require.Equal(t, 1, f.Attempts)
		require.Contains(t, f.LastError, "player banned")

		code, stdout, stderr = studioCLI(t, s, s.operatorKey, "fulfilments", "list", "--tenant", "studio", "--state", "failed")
		require.Equal(t, 0, code, stderr)
		require.Regexp(t, strconv.FormatInt(f.ID, 10)+`\s+staging\s+fulfil\s+failed\s+C-STUDIO-2-P\s+SUCCESSFUL\s+1\s+.*player banned`, stdout)

		// Retried while the script plugin is still active: rejected again,
		// the attempt history kept.
		// The record turns failed a moment before its job completes; until
		// then the server answers 409 "try again in a moment".
		require.Eventually(t, func() bool {
			code, stdout, stderr = studioCLI(t, s, s.operatorKey, "fulfilments", "retry", "--tenant", "studio", strconv.FormatInt(f.ID, 10))
			return code == 0 || !strings.Contains(stderr, "try again in a moment")
		}, 20*time.Second, 100*time.Millisecond)
		require.Equal(t, 0, code, stderr)
		require.Contains(t, stdout, fmt.Sprintf("fulfilment %d (fulfil of C-STUDIO-2-P) queued again", f.ID))
		require.Eventually(t, func() bool {
			var l fulfilmentsJSON
			studioJSON(t, s, &l, "fulfilments", "list", "--tenant", "studio", "--state", "failed")
			return len(l) == 1 && l[0].Attempts == 2
		}, 20*time.Second, 100*time.Millisecond, "retried and rejected again")

		// Roll back to the wallet, then the bulk retry credits the player.
		code, stdout, stderr = studioCLI(t, s, s.operatorKey, "plugin", "activate", "--tenant", "studio", strconv.FormatInt(pushedID, 10))
		require.Equal(t, 0, code, stderr)
		require.Contains(t, stdout, fmt.Sprintf("active in staging: plugin %d", pushedID))
		require.Eventually(t, func() bool {
			code, stdout, stderr = studioCLI(t, s, s.operatorKey, "fulfilments", "retry", "--tenant", "studio", "--all-failed", "--env", "staging")
			return code != 0 || !strings.Contains(stdout, "try again in a moment")
		}, 20*time.Second, 100*time.Millisecond)
		require.Equal(t, 0, code, stderr)
		require.Contains(t, stdout, "queued again: 1")
		require.Contains(t, stdout, "C-STUDIO-2-P")
		require.Eventually(t, func() bool { return s.fulfilmentState(t, "C-STUDIO-2-P") == payment.StateSucceeded },
			20*time.Second, 50*time.Millisecond, "the wallet credits player 2")

		code, stdout, _ = studioCLI(t, s, s.operatorKey, "payments", "show", "--tenant", "studio", "C-STUDIO-2-P")
		require.Equal(t, 0, code)
		require.Contains(t, stdout, "fulfil             succeeded after 3 attempt(s)")
		require.Regexp(t, `fulfil\s+attempt 1 failed: .*player banned`, stdout)
		require.Regexp(t, `fulfil\s+attempt 2 failed: .*player banned`, stdout)
		require.Contains(t, stdout, fmt.Sprintf("attempt 3 started (plugin %d)", pushedID))
		require.Contains(t, stdout, "attempt 3 succeeded")

		code, _, stderr = studioCLI(t, s, s.operatorKey, "fulfilments", "retry", "--tenant", "studio", strconv.FormatInt(f.ID, 10))
		require.Equal(t, 4, code, "a succeeded record is not retried: %s", stderr)
		require.Contains(t, stderr, "409")
		code, stdout, _ = studioCLI(t, s, s.operatorKey, "fulfilments", "retry", "--tenant", "studio", strconv.FormatInt(f.ID, 10), "999999")
		require.Equal(t, 1, code, "IDs given and skipped: exit 1")
		require.Contains(t, stdout, "skipped: 2")
	})

	t.Run("test transactions", func(t *testing.T) {
		code, stdout, stderr := studioCLI(t, s, s.operatorKey, "test-transactions", "run", "--tenant", "studio",
			"--bundle", "gems-100", "--player", "501", "--reference", "cli-test-1")
		require.Equal(t, 0, code, "stdout: %s\nstderr: %s", stdout, stderr)
		for _, step := range []string{"credentials", "simulator", "order", "payment", "webhook", "fulfilment", "report"} {
			require.Regexp(t, `(?m)^ok\s+`+step+`\s`, stdout)
		}
		require.Contains(t, stdout, "test transaction cli-test-1: succeeded, payment ")

		var tx struct {
			Status    string `json:"status"`
			Reference string `json:"reference"`
			Steps     []struct {
				Result string `json:"result"`
			} `json:"steps"`
		}
		studioJSON(t, s, &tx, "test-transactions", "show", "--tenant", "studio", "cli-test-1")
		require.Equal(t, "succeeded", tx.Status)
		require.Len(t, tx.Steps, 7)

		// Its payment is shown with the report to Pay1st.
		code, stdout, stderr = studioCLI(t, s, s.operatorKey, "payments", "show", "--tenant", "studio", tx.Reference)
		require.Equal(t, 0, code, stderr)
		require.Contains(t, stdout, "report             succeeded after 1 attempt(s)")
		require.Contains(t, stdout, "accepted by Pay1st after 1 attempt(s): gems-100 x1")

		// A tenant without staging credentials: the first step fails, exit 1.
		s.createTenant(t, "nocreds", 4043)
		g.catalog(t, "nocreds")
		code, stdout, stderr = studioCLI(t, s, s.operatorKey, "test-transactions", "run", "--tenant", "nocreds",
			"--bundle", "gems-100", "--player", "1")
		require.Equal(t, 1, code, "stdout: %s\nstderr: %s", stdout, stderr)
		require.Regexp(t, `(?m)^failed\s+credentials\s+.*apiKey`, stdout)
		require.Contains(t, stderr, "step credentials")

		code, _, stderr = studioCLI(t, s, s.operatorKey, "test-transactions", "run", "--tenant", "studio", "--env", "production",
			"--bundle", "gems-100", "--player", "1")
		require.Equal(t, 4, code, "production is refused (422)")
		require.Contains(t, stderr, "staging only")
	})

	t.Run("exit codes", func(t *testing.T) {
		code, _, stderr := studioCLI(t, s, s.operatorKey, "payments", "show", "--tenant", "studio", "C-NOPE-P")
		require.Equal(t, 3, code, "404: %s", stderr)
		code, _, _ = studioCLI(t, s, s.operatorKey, "fulfilments", "list", "--tenant", "nobody")
		require.Equal(t, 3, code, "unknown tenant")
		code, _, stderr = studioCLI(t, s, "phk_nobody_000000000000000000000000000000000", "payments", "list", "--tenant", "studio")
		require.Equal(t, 5, code, "wrong key")
		require.Contains(t, stderr, "401")
		code, _, _ = studioCLI(t, s, s.operatorKey, "payments", "list", "--tenant", "studio", "--on-hold", "maybe")
		require.Equal(t, 2, code, "usage")
		code, _, _ = studioCLI(t, s, s.operatorKey, "plugin", "push", "--tenant", "studio", "--name", "x", bins["wallet"])
		require.Equal(t, 2, code, "usage: no --version")
		code, stdout, _ := studioCLI(t, s, s.operatorKey, "fulfilments", "retry", "--help")
		require.Equal(t, 0, code)
		require.Contains(t, stdout, "--all-failed")
		require.NotContains(t, s.logs.String(), s.operatorKey)
	})
}
