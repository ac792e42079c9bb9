package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/partnerhub/partnerhub/internal/config"
	"github.com/partnerhub/partnerhub/pay1st"
)

func TestSimUsage(t *testing.T) {
	t.Parallel()
	var stdout bytes.Buffer
	require.NoError(t, run(context.Background(), []string{"sim", "--help"}, &stdout, &bytes.Buffer{}))
	require.Contains(t, stdout.String(), "partnerhub sim [--listen ADDR]")
	require.Contains(t, stdout.String(), "-signing-key")

	file := filepath.Join(t.TempDir(), "partners.json")
	require.NoError(t, os.WriteFile(file, []byte(`{"partners":[]}`), 0o600))
	noEnv := func(string) string { return "" }
	for _, args := range [][]string{
		{"--nope"},
		{"extra"},
		{"--partner-id", "0"},
		{"--token-lifetime", "-1s"},
		{"--partners-file", file},
		{"--partners-file", file + ".missing"},
	} {
		err := simCmd(context.Background(), args, noEnv, &bytes.Buffer{}, &bytes.Buffer{})
		require.ErrorIs(t, err, config.ErrInvalid, "%v", args)
	}
}

// TestSimCommand starts `partnerhub sim` as a process, reads the URL it
// prints and gets a token with the credentials it was given.
func TestSimCommand(t *testing.T) {
	t.Parallel()
	bins, err := binaries()
	require.NoError(t, err)
	file := filepath.Join(t.TempDir(), "partners.json")
	require.NoError(t, os.WriteFile(file, []byte(`[
		{"partnerId": 7, "partnerCode": "acme", "apiKey": "key-acme", "apiSecret": "secret-acme", "signingKey": "sk-acme"},
		{"partnerId": 8, "partnerCode": "beta"}
	]`), 0o600))
	cmd := exec.Command(bins["partnerhub"], "sim", "--listen", "127.0.0.1:0", "--partners-file", file)
	cmd.Env = append(os.Environ(), "PARTNERHUB_SIM_VERBOSE=true")
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	var stderr syncBuffer
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})

	lines := make(chan string, 64)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var url string
	var printed []string
	deadline := time.After(30 * time.Second)
	for url == "" || !strings.Contains(strings.Join(printed, "\n"), "Drive a payment") {
		select {
		case line, ok := <-lines:
			require.True(t, ok, "sim exited early: %s", stderr.String())
			printed = append(printed, line)
			if u, found := strings.CutPrefix(line, "Pay1st simulator listening on "); found {
				url = u
			}
		case <-deadline:
			t.Fatalf("no URL printed; stderr: %s", stderr.String())
		}
	}
	out := strings.Join(printed, "\n")
	require.Contains(t, out, "partner acme (partnerId 7)")
	require.Contains(t, out, "secret-acme")
	require.Contains(t, out, "partner beta (partnerId 8)", "generated credentials are printed")

	req, err := http.NewRequest(http.MethodPost, url+pay1st.PathToken, strings.NewReader(`{"role":"API_USER"}`))
	require.NoError(t, err)
	req.Header.Set("Content-Type", pay1st.ContentTypeAuth)
	req.SetBasicAuth("key-acme", "secret-acme")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	var tok struct{ AccessToken string }
	require.NoError(t, json.Unmarshal(body, &tok))
	require.NotEmpty(t, tok.AccessToken)

	req.SetBasicAuth("key-acme", "wrong")
	req.Body = io.NopCloser(strings.NewReader(`{"role":"API_USER"}`))
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)

	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-exited:
		exited <- err // for the cleanup
		require.NoError(t, err, "SIGTERM stops it cleanly")
	case <-time.After(30 * time.Second):
		t.Fatal("sim did not stop on SIGTERM")
	}
	require.Contains(t, stderr.String(), "sim request", "--verbose (from the environment) logs requests")
}
