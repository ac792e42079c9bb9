// Command envplugin is a test-only plugin that reports what its process
// sees, so host tests can check the sandbox from the inside:
//
//   - LookupUser: ErrorMessage = its environment (VAR=value, NUL-separated),
//     UserID = its uid, ErrorCode = its gid, ExternalReference = its working
//     directory.
//   - Fulfil: player "crash" exits the process at once; player "sleep" blocks
//     until the call's deadline; anything else is fulfilled.
//   - Describe reports the protocol version found in a file named
//     "protocol" in its working directory, if any (default 1).
//   - Configure refuses the setting "fail", and logs the setting "echo" to
//     its stderr, in its message and as attributes (a careless plugin).
package main

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"strconv"
	"strings"

	"github.com/partnerhub/partnerhub/plugins/sdk"
)

type envPlugin struct{ sdk.Unimplemented }

// stderr is the process's real stderr, taken before sdk.Serve (go-plugin
// then swaps os.Stderr for its own stream), as sdk.NewLogger asks.
var stderr = os.Stderr

func (envPlugin) Describe(context.Context) (sdk.Description, error) {
	version := uint32(sdk.ProtocolVersion)
	if b, err := os.ReadFile("protocol"); err == nil {
		v, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 32)
		if err != nil {
			return sdk.Description{}, err
		}
		version = uint32(v)
	}
	return sdk.Description{Name: "envplugin", Version: "0.0.1", ProtocolVersion: version,
		Capabilities: []sdk.Capability{sdk.CapabilityLookupUser, sdk.CapabilityFulfil}}, nil
}

func (envPlugin) Configure(_ context.Context, req sdk.ConfigureRequest) error {
	if _, ok := req.Settings["fail"]; ok {
		return errors.New("setting fail: refused")
	}
	if v, ok := req.Settings["echo"]; ok {
		sdk.NewLogger(stderr, slog.LevelInfo).Info("configured with echo="+v, "echo", v, "settings", req.Settings)
		_, _ = stderr.WriteString("plain line with echo=" + v + "\n")
	}
	return nil
}

func (envPlugin) LookupUser(context.Context, sdk.LookupUserRequest) (sdk.LookupUserResponse, error) {
	wd, err := os.Getwd()
	if err != nil {
		return sdk.LookupUserResponse{}, err
	}
	return sdk.LookupUserResponse{
		Found:             true,
		UserID:            strconv.Itoa(os.Getuid()),
		ErrorCode:         strconv.Itoa(os.Getgid()),
		ExternalReference: wd,
		ErrorMessage:      strings.Join(os.Environ(), "\x00"),
	}, nil
}

func (envPlugin) Fulfil(ctx context.Context, req sdk.FulfilRequest) (sdk.Result, error) {
	switch req.PlayerID {
	case "crash":
		os.Exit(3)
	case "sleep":
		<-ctx.Done()
		return sdk.Result{}, ctx.Err()
	}
	return sdk.Fulfilled("env-" + req.IdempotencyKey), nil
}

func main() { sdk.Serve(envPlugin{}) }
