// Command partnerhub is the one partnerhub binary: the server (serve), its
// database migrations (migrate), a self-contained development stack (dev),
// the OpenAPI document (openapi), its version (version), the API client
// verbs (package internal/cli: tenants ... plugin push, payments, ...) and a
// fake Pay1st (sim).
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/partnerhub/partnerhub/api"
	"github.com/partnerhub/partnerhub/internal/cli"
	"github.com/partnerhub/partnerhub/internal/config"
	"github.com/partnerhub/partnerhub/internal/telemetry"
	"github.com/partnerhub/partnerhub/plugins/host"
)

const usage = `partnerhub puts many game studios on Carry1st's Pay1st.

Usage:
  partnerhub serve   [flags]   run the server (needs PARTNERHUB_DATABASE_URL, PARTNERHUB_SECRET_KEY)
  partnerhub migrate [flags]   apply database migrations (safe to run twice)
  partnerhub dev     [flags]   private Postgres, demo tenant with the wallet plugin, Pay1st simulator, server on :8080
  partnerhub openapi [--3.0]   print the OpenAPI document (YAML; --3.0: downgraded for 3.0-only generators)
  partnerhub plugin|payments|fulfilments|test-transactions ...
                               a studio's verbs through the API: push (progress bar) and activate
                               plugins, payments and their timelines, retry failed fulfilments,
                               staging test transactions (same flags; VERB --help; docs/cli.md)
  partnerhub tenants|keys|envs|credentials|catalog|promote|checklist ...
                               operate a server through its API: tenants, API keys, environments,
                               credentials, catalog import/export, promotion, go-live checklist
                               (--server/PARTNERHUB_URL, --key/PARTNERHUB_KEY; VERB --help; docs/cli.md)
  partnerhub sim     [flags]   run a fake Pay1st for development and tests (sim -h)
  partnerhub version           print the version

Flags (each also an environment variable):
`

func main() {
	// First: a copy of this binary started as the plugin sandbox shim
	// becomes the plugin here and never returns.
	host.SandboxMain()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "partnerhub:", err)
		// 2 usage, 1 failed; the client verbs add 3-6 (cli.ExitCode).
		os.Exit(cli.ExitCode(err))
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		config.Usage(stderr)
		return fmt.Errorf("%w: missing command", config.ErrInvalid)
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "openapi":
		doc, err := api.OpenAPI()
		if len(rest) == 1 && rest[0] == "--3.0" {
			// For generators that read only 3.0 (oapi-codegen, client/).
			doc, err = api.OpenAPI30()
		} else if len(rest) > 0 {
			return fmt.Errorf("%w: openapi takes only --3.0", config.ErrInvalid)
		}
		if err != nil {
			return err
		}
		_, err = stdout.Write(doc)
		return err
	case "version":
		fmt.Fprintln(stdout, version())
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		config.Usage(stdout)
		return nil
	case "tenants", "keys", "envs", "credentials", "catalog", "promote", "checklist",
		"plugin", "payments", "fulfilments", "test-transactions":
		// The API client verbs (internal/cli, docs/cli.md).
		return cli.Run(ctx, args, os.Getenv, stdout, stderr)
	case "sim":
		return simCmd(ctx, rest, os.Getenv, stdout, stderr)
	case "serve", "migrate", "dev":
	default:
		return fmt.Errorf("%w: unknown command %q (try partnerhub help)", config.ErrInvalid, cmd)
	}

	getenv := os.Getenv
	if cmd == "dev" {
		getenv = devEnv(os.Getenv)
	}
	cfg, err := config.Load(cmd, rest, getenv)
	if err != nil {
		return err
	}
	logger := newLogger(cfg, stderr)
	switch cmd {
	case "serve":
		if err := cfg.RequireServe(); err != nil {
			return err
		}
		return serve(ctx, cfg, logger, nil)
	case "migrate":
		if cfg.DatabaseURL == "" {
			return fmt.Errorf("%w: PARTNERHUB_DATABASE_URL (or DATABASE_URL) is required", config.ErrInvalid)
		}
		return migrate(ctx, cfg, logger)
	default:
		return dev(ctx, cfg, logger, stdout)
	}
}

func newLogger(cfg config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	// Lines logged inside a request or job carry its trace and span IDs.
	if cfg.LogFormat == "text" {
		return slog.New(telemetry.LogHandler(slog.NewTextHandler(w, opts)))
	}
	return slog.New(telemetry.LogHandler(slog.NewJSONHandler(w, opts)))
}

func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		v := bi.Main.Version
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				v += " " + s.Value[:12]
			}
		}
		return "partnerhub " + v + " (api " + api.Version + ")"
	}
	return "partnerhub (unknown build) (api " + api.Version + ")"
}
