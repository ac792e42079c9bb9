package host

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/partnerhub/partnerhub/plugins/plugintest"
)

// helperDirEnv, when set, makes TestPluginDiesWithHost the host process
// that the test kills: it starts a plugin under that directory, prints
// "pid=<plugin pid>" and waits to be killed.
const helperDirEnv = "PARTNERHUB_HOST_TEST_HELPER_DIR"

func TestPluginDiesWithHost(t *testing.T) {
	if dir := os.Getenv(helperDirEnv); dir != "" {
		runDyingHost(t, dir, os.Getenv("PARTNERHUB_HOST_TEST_LIMITS") != "")
		return
	}
	t.Parallel()
	for _, tt := range []struct {
		name   string
		limits string
	}{{"started directly", ""}, {"started through the shim", "yes"}} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := reachableTempDir(t)
			// The helper serves this binary rather than building its own.
			bin := plugintest.Build(t, envPluginPackage)
			require.NoError(t, os.WriteFile(filepath.Join(dir, "plugin"), bin.Bytes, 0o644))
			cmd := exec.Command(os.Args[0], "-test.run=^TestPluginDiesWithHost$", "-test.count=1")
			cmd.Env = append(os.Environ(), helperDirEnv+"="+dir, "PARTNERHUB_HOST_TEST_LIMITS="+tt.limits)
			cmd.Stderr = os.Stderr
			out, err := cmd.StdoutPipe()
			require.NoError(t, err)
			require.NoError(t, cmd.Start())
			t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })

			pid := 0
			for sc := bufio.NewScanner(out); pid == 0 && sc.Scan(); {
				if v, ok := strings.CutPrefix(sc.Text(), "pid="); ok {
					pid, err = strconv.Atoi(v)
					require.NoError(t, err)
				}
			}
			require.Positive(t, pid, "the helper host started a plugin")
			require.True(t, pidAlive(pid))

			require.NoError(t, cmd.Process.Kill()) // SIGKILL: no Close, no cleanup
			_ = cmd.Wait()
			require.Eventually(t, func() bool { return !pidAlive(pid) }, 10*time.Second, 10*time.Millisecond,
				"the plugin outlived its host")
		})
	}
}

func runDyingHost(t *testing.T, dir string, limits bool) {
	data, err := os.ReadFile(filepath.Join(dir, "plugin"))
	require.NoError(t, err)
	bin := plugintest.Binary{Bytes: data, SHA256: sha256Hex(data)}
	cfg := Config{CacheDir: filepath.Join(dir, "cache"), WorkDir: filepath.Join(dir, "work")}
	if limits {
		cfg.Limits = Limits{MemoryBytes: 2 << 30, OpenFiles: 256}
	}
	h, err := New(cfg, plugintest.NewSource(bin))
	require.NoError(t, err)
	requireAnswers(t, h, tenantKey("a", bin))
	fmt.Printf("pid=%d\n", h.running("a", "staging").pid)
	select {} // killed by the parent test
}
