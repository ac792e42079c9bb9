// Package pluginv1 holds the generated Go code for partnerhub's plugin
// protocol v1 (plugin.proto). Plugin authors do not import it directly: the
// SDK in plugins/sdk wraps it in plain Go types.
//
// Regenerate after editing plugin.proto (from this folder):
//
//	go generate .
package pluginv1

//go:generate protoc -I . --go_out=. --go_opt=paths=source_relative --go-grpc_out=. --go-grpc_opt=paths=source_relative plugin.proto
