package api_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/partnerhub/partnerhub/api"
	"github.com/partnerhub/partnerhub/plugins"
	"github.com/partnerhub/partnerhub/plugins/host"
	"github.com/partnerhub/partnerhub/plugins/sdk"
)

// slowBody sends its chunks with a pause before each.
type slowBody struct {
	chunks [][]byte
	pause  time.Duration
}

func (b *slowBody) Read(p []byte) (int, error) {
	if len(b.chunks) == 0 {
		return 0, io.EOF
	}
	time.Sleep(b.pause)
	n := copy(p, b.chunks[0])
	if b.chunks[0] = b.chunks[0][n:]; len(b.chunks[0]) == 0 {
		b.chunks = b.chunks[1:]
	}
	return n, nil
}

// TestUploadOutlivesServerTimeouts: an upload slower than the server's read
// and write timeouts still arrives, within the route's own deadline.
func TestUploadOutlivesServerTimeouts(t *testing.T) {
	t.Parallel()
	b := setupPluginsWith(t, pluginSetup{maxSize: 1 << 20, readTimeout: 300 * time.Millisecond, writeTimeout: 300 * time.Millisecond})
	b.createTenant(t, "acme", 1)
	bin := elf("slow but steady")
	var chunks [][]byte
	for c := range slicesChunk(bin, 3) {
		chunks = append(chunks, c)
	}
	body := &slowBody{chunks: chunks, pause: 150 * time.Millisecond} // about 1s in all
	status, out := b.uploadPlugin(t, b.operatorKey, "acme", map[string]string{"name": "w", "version": "1"}, body, int64(len(bin)))
	require.Equal(t, http.StatusCreated, status, out)
	require.EqualValues(t, len(bin), out["size"])
}

func slicesChunk(b []byte, n int) func(func([]byte) bool) {
	return func(yield func([]byte) bool) {
		for len(b) > 0 {
			c := b[:min(n, len(b))]
			b = b[len(c):]
			if !yield(c) {
				return
			}
		}
	}
}

// rawUpload sends an upload by hand over TCP: head bytes of a body of
// declared length, then stall (until the answer) or half-close. It returns
// the server's answer.
func rawUpload(t *testing.T, b pluginBundle, declared int, head []byte, halfClose bool) (int, map[string]any) {
	t.Helper()
	u, err := url.Parse(b.srv.URL)
	require.NoError(t, err)
	conn, err := net.Dial("tcp", u.Host)
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(30*time.Second)))
	q := url.Values{"name": {"w"}, "version": {"1"}, "os": {runtime.GOOS}, "arch": {runtime.GOARCH}}
	_, err = fmt.Fprintf(conn, "POST /v1/tenants/acme/plugins?%s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n"+
		"Content-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n", q.Encode(), u.Host, b.operatorKey, declared)
	require.NoError(t, err)
	_, err = conn.Write(head)
	require.NoError(t, err)
	if halfClose {
		require.NoError(t, conn.(*net.TCPConn).CloseWrite())
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err)
	defer resp.Body.Close()
	var out map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	return resp.StatusCode, out
}

// TestUploadBodyFailures: a body too slow for the route's deadline is 408,
// one cut off is 400; never a 500, and nothing is stored.
func TestUploadBodyFailures(t *testing.T) {
	t.Parallel()
	b := setupPluginsWith(t, pluginSetup{maxSize: 1 << 20, readTimeout: 300 * time.Millisecond,
		limits: api.PluginLimits{UploadTimeout: time.Second}})
	b.createTenant(t, "acme", 1)

	status, out := rawUpload(t, b, 1000, elf("first bytes"), false)
	require.Equal(t, http.StatusRequestTimeout, status, out)
	require.Contains(t, out["detail"], "not received in time")

	status, out = rawUpload(t, b, 1000, elf("first bytes"), true)
	require.Equal(t, http.StatusBadRequest, status, out)
	require.Contains(t, out["detail"], "cut off")

	var n int
	require.NoError(t, b.pool.QueryRow(context.Background(), `SELECT count(*) FROM plugins`).Scan(&n))
	require.Zero(t, n)
	require.NotContains(t, b.logs.String(), "management API error", "not answered as an internal error")
}

func TestUploadQuotaAPI(t *testing.T) {
	t.Parallel()
	b := setupPluginsWith(t, pluginSetup{maxSize: 1 << 20, quota: plugins.Quota{MaxPlugins: 1}})
	b.createTenant(t, "acme", 1)
	b.createTenant(t, "other", 2)
	b.upload(t, "acme", "w", "1", elf("1"))
	b.upload(t, "other", "w", "1", elf("1")) // each tenant has its own quota

	bin := elf("2")
	status, out := b.uploadPlugin(t, b.operatorKey, "acme", map[string]string{"name": "w", "version": "2"}, bytes.NewReader(bin), int64(len(bin)))
	require.Equal(t, http.StatusConflict, status, out)
	require.Contains(t, out["detail"], "quota is 1 plugins")
	require.Contains(t, out["detail"], "delete plugins")
}

// fakeHost probes by waiting: for delay, or until the probe's context ends
// when delay is 0. It records the probe's deadline.
type fakeHost struct {
	delay time.Duration
	mu    sync.Mutex
	dl    time.Time
	hasDL bool
}

func (f *fakeHost) Get(context.Context, host.Key) (sdk.Plugin, error) {
	return nil, errors.New("fake host runs no plugin")
}

func (f *fakeHost) Probe(ctx context.Context, _ host.Key) (sdk.Description, error) {
	f.mu.Lock()
	f.dl, f.hasDL = ctx.Deadline()
	f.mu.Unlock()
	if f.delay == 0 {
		<-ctx.Done()
		return sdk.Description{}, fmt.Errorf("start plugin: %w", ctx.Err())
	}
	select {
	case <-time.After(f.delay):
	case <-ctx.Done():
		return sdk.Description{}, ctx.Err()
	}
	return sdk.Description{Name: "fake", Version: "1", ProtocolVersion: sdk.ProtocolVersion,
		Capabilities: []sdk.Capability{sdk.CapabilityFulfil}}, nil
}

// TestActivateAnswersPastWriteTimeout: an activation that takes longer
// than the server's write timeout still gets its answer to the client.
func TestActivateAnswersPastWriteTimeout(t *testing.T) {
	t.Parallel()
	b := setupPluginsWith(t, pluginSetup{maxSize: 1 << 20, writeTimeout: 200 * time.Millisecond,
		host: &fakeHost{delay: 800 * time.Millisecond}})
	b.createTenant(t, "acme", 1)
	id := b.upload(t, "acme", "w", "1", elf("1"))

	status, _, out := b.call(t, http.MethodPut, "/v1/tenants/acme/environments/staging/plugin", b.operatorKey, map[string]any{"pluginId": id})
	require.Equal(t, http.StatusOK, status, out)
	require.Equal(t, "fake", out["description"].(map[string]any)["name"])
}

// TestActivateHasItsOwnDeadline: a plugin that never finishes starting is
// refused within the activation's deadline, with time left for the switch,
// and nothing changes.
func TestActivateHasItsOwnDeadline(t *testing.T) {
	t.Parallel()
	fake := &fakeHost{}
	b := setupPluginsWith(t, pluginSetup{maxSize: 1 << 20, host: fake, limits: api.PluginLimits{ActivateTimeout: 2 * time.Second}})
	b.createTenant(t, "acme", 1)
	id := b.upload(t, "acme", "w", "1", elf("1"))

	raw, err := json.Marshal(map[string]any{"pluginId": id})
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodPut, b.srv.URL+"/v1/tenants/acme/environments/staging/plugin", bytes.NewReader(raw))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+b.operatorKey)
	req.Header.Set("Content-Type", "application/json")
	sent := time.Now()
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	require.NoError(t, err, "the activation answers instead of waiting for the plugin forever")
	defer resp.Body.Close()
	var out map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode, out)
	require.Equal(t, "timeout", out["errors"].([]any)[0].(map[string]any)["message"])
	require.True(t, resp.Close, "the connection is not reused after a route's own deadlines")

	fake.mu.Lock()
	defer fake.mu.Unlock()
	require.True(t, fake.hasDL, "the probe has a deadline")
	require.True(t, fake.dl.Before(sent.Add(2*time.Second-time.Second/2)), "the probe ends early enough to leave time for the switch")

	status, _, got := b.call(t, http.MethodGet, "/v1/tenants/acme/environments/staging/plugin", b.operatorKey, nil)
	require.Equal(t, http.StatusNotFound, status, got)
	require.True(t, strings.Contains(fmt.Sprint(got["detail"]), "no active plugin"))
}
