package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/partnerhub/partnerhub/internal/config"
	"github.com/partnerhub/partnerhub/pay1st/sim"
)

const simUsage = `Usage:
  partnerhub sim [--listen ADDR] [--partners-file FILE | partner flags]

Runs a fake Pay1st (the Gateway API: tokens, create and query payment,
fulfilment completion) for development and manual tests. It checks every
request as a strict Pay1st would (token, X-TIMESTAMP, X-SIGNATURE) and sends
signed Payment Webhook Events and Summary Webhooks when told to:

  curl -X POST ADDR/_sim/payments/REFERENCE/pay          (pay, fail, refund,
       chargeback, redeliver; ?duplicate=true ?outOfOrder=true ?lose=true)
  curl ADDR/_sim/payments/REFERENCE                      (state, history, fulfilments)
  curl ADDR/_sim/webhooks                                (webhooks sent and their answers)

Partners come from --partners-file (a JSON array of partners, see
docs/pay1st-sim.md) or, for one partner, from the flags below; credentials
not given are generated and printed. Each flag is also an environment
variable PARTNERHUB_SIM_<NAME> (--api-secret: PARTNERHUB_SIM_API_SECRET);
prefer variables for secrets: flags show in process lists.

The control endpoints are unauthenticated: keep the default loopback address.

Flags:
`

// simOptions are the parsed flags of `partnerhub sim`.
type simOptions struct {
	listen        string
	partnersFile  string
	partner       sim.Partner
	tokenLifetime time.Duration
	verbose       bool
}

// simCmd runs `partnerhub sim` until ctx ends.
func simCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	o, help, err := parseSim(args, getenv, stderr)
	if help {
		fmt.Fprint(stdout, simUsage)
		fs := simFlags(&simOptions{}, getenv)
		fs.SetOutput(stdout)
		fs.PrintDefaults()
		return nil
	}
	if err != nil {
		return err
	}
	partners := []sim.Partner{o.partner}
	if o.partnersFile != "" {
		if partners, err = readPartners(o.partnersFile); err != nil {
			return err
		}
	}
	level := slog.LevelInfo
	if o.verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	srv, err := sim.Listen(o.listen, sim.Options{Partners: partners, TokenLifetime: o.tokenLifetime, Logger: logger})
	if err != nil {
		return err
	}
	defer srv.Close()
	printSim(stdout, srv.URL, partners)
	<-ctx.Done()
	return nil
}

func simFlags(o *simOptions, getenv func(string) string) *flag.FlagSet {
	fs := flag.NewFlagSet("sim", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	env := func(name, def string) string {
		if v := getenv("PARTNERHUB_SIM_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))); v != "" {
			return v
		}
		return def
	}
	str := func(p *string, name, def, usage string) { fs.StringVar(p, name, env(name, def), usage) }
	str(&o.listen, "listen", "127.0.0.1:8090", "address to listen on (host:port; port 0 picks a free one)")
	str(&o.partnersFile, "partners-file", "", "JSON file with an array of partners; replaces the partner flags")
	str(&o.partner.PartnerCode, "partner-code", "demo", "the partner's partnerCode")
	id, _ := strconv.ParseInt(env("partner-id", "1"), 10, 64)
	fs.Int64Var(&o.partner.PartnerID, "partner-id", id, "the partner's numeric partnerId")
	str(&o.partner.APIKey, "api-key", "", "API Key (generated when empty)")
	str(&o.partner.APISecret, "api-secret", "", "API Secret (generated when empty)")
	str(&o.partner.SigningKey, "signing-key", "", "Signing Key (generated when empty)")
	str(&o.partner.WebhookURL, "webhook-url", "", "where Payment Webhook Events go unless a payment names another")
	str(&o.partner.SummaryURL, "summary-url", "", "where Summary Webhooks go")
	str(&o.partner.BasicAuthUsername, "basic-auth-username", "", "Basic Auth username: half of the Summary Webhook key")
	str(&o.partner.BasicAuthPassword, "basic-auth-password", "", "Basic Auth password: half of the Summary Webhook key")
	lifetime, _ := time.ParseDuration(env("token-lifetime", sim.DefaultTokenLifetime.String()))
	fs.DurationVar(&o.tokenLifetime, "token-lifetime", lifetime, "how long an access token is accepted")
	verbose, _ := strconv.ParseBool(env("verbose", "false"))
	fs.BoolVar(&o.verbose, "verbose", verbose, "log every request and webhook")
	return fs
}

// parseSim parses the flags; help is true for -h/--help.
func parseSim(args []string, getenv func(string) string, stderr io.Writer) (simOptions, bool, error) {
	var o simOptions
	fs := simFlags(&o, getenv)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return o, true, nil
		}
		fmt.Fprint(stderr, simUsage)
		fs.SetOutput(stderr)
		fs.PrintDefaults()
		return o, false, fmt.Errorf("%w: sim: %v", config.ErrInvalid, err)
	}
	if fs.NArg() > 0 {
		return o, false, fmt.Errorf("%w: sim: unexpected argument %q", config.ErrInvalid, fs.Arg(0))
	}
	if o.tokenLifetime <= 0 {
		return o, false, fmt.Errorf("%w: sim: --token-lifetime must be positive", config.ErrInvalid)
	}
	for _, p := range []*string{&o.partner.APIKey, &o.partner.APISecret, &o.partner.SigningKey} {
		if *p == "" {
			*p = randomToken()
		}
	}
	if o.partnersFile == "" && (o.partner.PartnerCode == "" || o.partner.PartnerID <= 0) {
		return o, false, fmt.Errorf("%w: sim: --partner-code and a positive --partner-id are required", config.ErrInvalid)
	}
	return o, false, nil
}

// readPartners reads a JSON array of sim.Partner; empty credentials are
// generated.
func readPartners(path string) ([]sim.Partner, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: sim: %w", config.ErrInvalid, err)
	}
	var partners []sim.Partner
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&partners); err != nil {
		return nil, fmt.Errorf("%w: sim: %s: want a JSON array of partners: %v", config.ErrInvalid, path, err)
	}
	if len(partners) == 0 {
		return nil, fmt.Errorf("%w: sim: %s lists no partner", config.ErrInvalid, path)
	}
	for i := range partners {
		for _, p := range []*string{&partners[i].APIKey, &partners[i].APISecret, &partners[i].SigningKey} {
			if *p == "" {
				*p = randomToken()
			}
		}
	}
	return partners, nil
}

func randomToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// printSim tells the developer what to configure in partnerhub. The
// simulator's credentials are test values: printing them is the point.
func printSim(w io.Writer, url string, partners []sim.Partner) {
	fmt.Fprintf(w, "Pay1st simulator listening on %s\n", url)
	for _, p := range partners {
		fmt.Fprintf(w, "\npartner %s (partnerId %d): configure its environment in partnerhub with\n", p.PartnerCode, p.PartnerID)
		fmt.Fprintf(w, "  Pay1st base URL  %s\n  API Key          %s\n  API Secret       %s\n  Signing Key      %s\n",
			url, p.APIKey, p.APISecret, p.SigningKey)
		if p.WebhookURL != "" {
			fmt.Fprintf(w, "  webhooks to      %s\n", p.WebhookURL)
		}
		if p.SummaryURL != "" {
			fmt.Fprintf(w, "  summaries to     %s\n", p.SummaryURL)
		}
	}
	fmt.Fprintf(w, "\nDrive a payment: curl -X POST %s%spayments/REFERENCE/pay\n", url, sim.ControlPrefix)
}
