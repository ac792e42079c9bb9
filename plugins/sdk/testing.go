package sdk

import (
	"testing"

	"github.com/hashicorp/go-plugin"
)

// TestClient serves impl in process over a real gRPC connection and returns
// the host's view of it, so a plugin author can unit-test exactly what the
// host will see, wire conversions included. The connection and server are
// torn down by t.Cleanup.
func TestClient(t testing.TB, impl Plugin) Plugin {
	t.Helper()
	// Closing the client makes go-plugin's controller stop the server;
	// stopping the server here as well would race with that.
	client, _ := plugin.TestPluginGRPCConn(t, false, PluginMap(impl))
	t.Cleanup(func() { _ = client.Close() })
	raw, err := client.Dispense(PluginName)
	if err != nil {
		t.Fatalf("sdk: dispense %s: %v", PluginName, err)
	}
	p, ok := raw.(Plugin)
	if !ok {
		t.Fatalf("sdk: dispensed %T, not a Plugin", raw)
	}
	return p
}
