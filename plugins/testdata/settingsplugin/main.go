// Command settingsplugin is a test plugin that insists on its settings:
// Configure refuses anything but api_key "letmein-123", quoting the value it
// got (as a careless plugin would), so tests can check that partnerhub
// redacts settings from what it tells the tenant.
package main

import (
	"context"
	"fmt"

	"github.com/partnerhub/partnerhub/plugins/sdk"
)

type plugin struct{ sdk.Unimplemented }

func (plugin) Describe(context.Context) (sdk.Description, error) {
	return sdk.Description{Name: "settings-test", Version: "0.1.0", ProtocolVersion: sdk.ProtocolVersion,
		Capabilities: []sdk.Capability{sdk.CapabilityFulfil}}, nil
}

func (plugin) Configure(_ context.Context, req sdk.ConfigureRequest) error {
	if v := req.Settings["api_key"]; v != "letmein-123" {
		return fmt.Errorf("api_key %q is not valid", v)
	}
	return nil
}

func main() { sdk.Serve(plugin{}) }
