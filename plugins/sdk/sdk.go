// Package sdk is the only package a partnerhub fulfilment plugin imports.
//
// A plugin is a standalone executable that implements [Plugin] and calls
// [Serve] from main. partnerhub starts it with hashicorp/go-plugin, talks to
// it over gRPC (protocol v1, see plugins/proto/pluginv1) and hands it every
// fulfilment and reversal for one tenant and environment. Authors never see
// gRPC or protobuf: requests and results are plain Go structs, and money is
// always an exact [decimal.Decimal].
//
// Plugins run with an empty environment, in their own working directory, as
// an unprivileged user. Everything a plugin needs arrives in Configure.
package sdk

import (
	"context"
	"errors"

	"github.com/hashicorp/go-plugin"
)

// ProtocolVersion is the plugin protocol version this SDK speaks. The host
// refuses plugins whose Describe reports anything else.
const ProtocolVersion = 1

// PluginName is the name under which the plugin is dispensed.
const PluginName = "fulfilment"

// Handshake is shared by host and plugin. The magic cookie is not a secret:
// it only stops the executable from doing anything when run by hand.
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  ProtocolVersion,
	MagicCookieKey:   "PARTNERHUB_PLUGIN",
	MagicCookieValue: "609dd09a55638d16db58a818cfbce2d2a5d4ab9cd7554b278e8fbb0246d2ccb1",
}

// Errors returned by the gRPC adapters. Errors from the plugin itself keep
// their gRPC status (inspect them with google.golang.org/grpc/status).
var (
	// ErrInvalidSettings means the plugin rejected its settings in Configure.
	ErrInvalidSettings = errors.New("sdk: invalid settings")
	// ErrInvalidMessage means a message on the wire is malformed: an amount
	// that is not a decimal, an unknown outcome, a missing field.
	ErrInvalidMessage = errors.New("sdk: invalid message")
)

// Plugin is implemented by a fulfilment plugin. Every method may be called
// concurrently. Fulfil and Reverse must be idempotent per IdempotencyKey: the
// host retries with the same key after a timeout or a [OutcomeRetry].
type Plugin interface {
	// Describe reports the plugin's name, version, protocol and capabilities.
	Describe(ctx context.Context) (Description, error)
	// Configure receives the tenant's settings once, right after start. An
	// error means the settings are invalid; the host does not use the plugin.
	Configure(ctx context.Context, req ConfigureRequest) error
	// LookupUser decides whether a player may pay (Pay1st's User Info Webhook).
	LookupUser(ctx context.Context, req LookupUserRequest) (LookupUserResponse, error)
	// Fulfil credits the player for a successful payment.
	Fulfil(ctx context.Context, req FulfilRequest) (Result, error)
	// Reverse takes back a fulfilment after a refund or chargeback.
	Reverse(ctx context.Context, req ReverseRequest) (Result, error)
}

// PluginMap is the go-plugin plugin set for impl. The host passes a nil impl:
// it only needs the client side.
func PluginMap(impl Plugin) plugin.PluginSet {
	return plugin.PluginSet{PluginName: &GRPCPlugin{Impl: impl}}
}

// Serve serves impl to the partnerhub host and returns when the host is done
// with the plugin. Call it from main; run by hand, it prints a notice and
// exits.
func Serve(impl Plugin) {
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: Handshake,
		Plugins:         PluginMap(impl),
		// Reports each traced call's server span to the host (trace.go).
		GRPCServer: newGRPCServer,
	})
}

// Unimplemented gives every method a safe default. Embed it so that a plugin
// keeps compiling when the interface grows, and override what you support.
type Unimplemented struct{}

// Describe reports an unnamed plugin with no capabilities; override it.
func (Unimplemented) Describe(context.Context) (Description, error) {
	return Description{Name: "unnamed", Version: "0.0.0", ProtocolVersion: ProtocolVersion}, nil
}

// Configure accepts any settings.
func (Unimplemented) Configure(context.Context, ConfigureRequest) error { return nil }

// LookupUser accepts every player as is, echoing the request.
func (Unimplemented) LookupUser(_ context.Context, req LookupUserRequest) (LookupUserResponse, error) {
	return LookupUserResponse{
		Found:             true,
		UserID:            req.PlayerID,
		ExternalReference: req.ExternalReference,
		Amount:            req.Amount,
		CurrencyCode:      req.CurrencyCode,
	}, nil
}

// Fulfil rejects: a plugin that cannot fulfil must say so permanently.
func (Unimplemented) Fulfil(context.Context, FulfilRequest) (Result, error) {
	return Rejected("fulfil not supported"), nil
}

// Reverse rejects, so reversals are left to a human.
func (Unimplemented) Reverse(context.Context, ReverseRequest) (Result, error) {
	return Rejected("reverse not supported"), nil
}
