package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/partnerhub/partnerhub/client"
)

// maxSecretsInput bounds a credentials document read from stdin or a file.
const maxSecretsInput = 64 << 10

const tenantEnvFlags = `--tenant CODE --env staging|production`

func envsCommand() *Command {
	return &Command{Name: "envs", Summary: "a tenant's staging and production environments: list, show, update, integration URLs",
		Usage: `Usage: partnerhub envs COMMAND --tenant CODE [--env staging|production]

Each tenant has two environments, staging and production. Credentials are
set and rotated with 'partnerhub credentials'.`,
		Sub: []*Command{
			{Name: "list", Summary: "both environments of a tenant", Run: envsList, Usage: `Usage: partnerhub envs list --tenant CODE`},
			{Name: "show", Summary: "one environment, with which credentials are set", Run: envsShow, Usage: `Usage: partnerhub envs show ` + tenantEnvFlags},
			{Name: "update", Summary: "change auth mode, callback URLs or the IP allow-list", Run: envsUpdate, Usage: `Usage: partnerhub envs update ` + tenantEnvFlags + `
         [--auth-mode signature|token|none] [--ip-allow-list CIDR,CIDR,...]
         [--callback-success-url URL] [--callback-failure-url URL]
         [--callback-pending-url URL] [--callback-cancel-url URL]

Changes only the flags given. An empty URL clears it; --ip-allow-list ""
clears the list (any address). Switching to token mode prints the new
webhook token and Webhook URL once, here only: paste the URL into the Pay1st
Console now.`},
			{Name: "urls", Summary: "the URLs to paste into the Pay1st Console", Run: envsURLs, Usage: `Usage: partnerhub envs urls ` + tenantEnvFlags + `

The Pay1st Console's webhook and callback fields in its order, then the
Shop's Summary and User Info webhooks. In token mode the Webhook URL carries
a placeholder, never the token.`},
		}}
}

func credentialsCommand() *Command {
	return &Command{Name: "credentials", Summary: "set, show and rotate an environment's secrets",
		Usage: `Usage: partnerhub credentials COMMAND ` + tenantEnvFlags + `

Secrets are sealed on the server and never shown again; the API and this CLI
only say whether each one is set and when it changed.`,
		Sub: []*Command{
			{Name: "show", Summary: "which credentials are set, and when", Run: credentialsShow, Usage: `Usage: partnerhub credentials show ` + tenantEnvFlags},
			{Name: "set", Summary: "set Pay1st credentials from stdin or a file (never flags)", Run: credentialsSet, Usage: `Usage: partnerhub credentials set ` + tenantEnvFlags + ` [--file PATH]

Reads a YAML or JSON mapping from --file PATH, or from stdin without it
(or with --file -), and sets the fields it has; the others stay as they are:

  apiKey: ...             # Pay1st API Key (Gateway API)
  apiSecret: ...          # Pay1st API Secret
  signingKey: ...         # Signing Key (setting it rotates: the old one verifies for the grace period)
  basicAuthUsername: ...  # Summary/User Info webhooks
  basicAuthPassword: ...

Secrets are never taken as flags: flags show in process lists and shell
history. Example: partnerhub credentials set --tenant acme --env staging < creds.yaml`},
			{Name: "rotate", Summary: "rotate the signing key or the webhook token (prints the new one once)", Run: credentialsRotate, Usage: `Usage: partnerhub credentials rotate signing-key|webhook-token ` + tenantEnvFlags + `

Generates a new Signing Key or webhook token and prints it once, here only:
store it now (and paste the new Webhook URL into the Pay1st Console for a
token). The replaced one still verifies for the configured grace period.`},
		}}
}

// tenantEnv parses --tenant and --env (staging|production).
type tenantEnv struct{ tenant, env *string }

func addTenantEnv(fs interface {
	String(name, value, usage string) *string
}, envDefault string) tenantEnv {
	return tenantEnv{tenant: fs.String("tenant", "", "tenant code"), env: fs.String("env", envDefault, "staging or production")}
}

// checkTenant: --tenant is required (--env is not looked at).
func (t tenantEnv) checkTenant() error {
	if *t.tenant == "" {
		return usageErrorf("--tenant is required")
	}
	return nil
}

// needTenant is the check of a verb whose only scope flag is --tenant.
func needTenant(tenant *string) func() error {
	return tenantEnv{tenant: tenant}.checkTenant
}

// check: --tenant and --env (staging or production) are required.
func (t tenantEnv) check() error {
	if err := t.checkTenant(); err != nil {
		return err
	}
	switch *t.env {
	case "staging", "production":
		return nil
	case "":
		return usageErrorf("--env is required (staging or production)")
	}
	return usageErrorf("--env must be staging or production, not %q", *t.env)
}

var envHeaders = []string{"ENV", "AUTH", "PLUGIN", "IP ALLOW-LIST", "SUCCESS URL", "CREDENTIALS SET", "UPDATED"}

func envRow(x client.Environment) []string {
	plugin := "-"
	if x.ActivePluginId != nil {
		plugin = strconv.FormatInt(*x.ActivePluginId, 10)
	}
	allow := strings.Join(x.IpAllowList, ",")
	if allow == "" {
		allow = "any"
	}
	return []string{string(x.Name), string(x.AuthMode), plugin, allow, orDash(x.CallbackSuccessUrl), credsSet(x.Credentials), x.UpdatedAt.UTC().Format(time.RFC3339)}
}

// credsSet names the credentials that are set, e.g. "apiKey,signingKey".
func credsSet(c client.EnvironmentCredentials) string {
	var s []string
	for _, f := range []struct {
		set  bool
		name string
	}{{c.ApiKeySet, "apiKey"}, {c.ApiSecretSet, "apiSecret"}, {c.SigningKeySet, "signingKey"}, {c.BasicAuthUsernameSet, "basicAuthUsername"}, {c.BasicAuthPasswordSet, "basicAuthPassword"}, {c.WebhookTokenSet, "webhookToken"}} {
		if f.set {
			s = append(s, f.name)
		}
	}
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ",")
}

func envsList(ctx context.Context, e *Env, args []string) error {
	fs := newFlags("envs list")
	te := addTenantEnv(fs, "")
	_, err := parseArgs(fs, args, te.checkTenant)
	if err != nil {
		return err
	}
	op := "list environments of " + *te.tenant
	r, err := e.Client.ListEnvironmentsWithResponse(ctx, *te.tenant)
	if err := call(op, "", err, statusOf(r), bodyOf(r)); err != nil {
		return err
	}
	list, err := decoded(op, "", r, r.JSON200)
	if err != nil {
		return err
	}
	items := []client.Environment{}
	if list.Items != nil {
		items = *list.Items
	}
	rows := make([][]string, 0, len(items))
	for _, x := range items {
		rows = append(rows, envRow(x))
	}
	return e.Render(items, envHeaders, rows)
}

func getEnv(ctx context.Context, e *Env, tenant, env string) (*client.Environment, error) {
	op := "show environment " + tenant + "/" + env
	r, err := e.Client.GetEnvironmentWithResponse(ctx, tenant, env)
	if err := call(op, "", err, statusOf(r), bodyOf(r)); err != nil {
		return nil, err
	}
	return decoded(op, "", r, r.JSON200)
}

func envsShow(ctx context.Context, e *Env, args []string) error {
	fs := newFlags("envs show")
	te := addTenantEnv(fs, "")
	_, err := parseArgs(fs, args, te.check)
	if err != nil {
		return err
	}
	x, err := getEnv(ctx, e, *te.tenant, *te.env)
	if err != nil {
		return err
	}
	if e.JSON {
		return writeJSON(e.Out, x)
	}
	rows := [][]string{
		{"environment", string(x.Name)},
		{"auth mode", string(x.AuthMode)},
		{"active plugin", envRow(*x)[2]},
		{"IP allow-list", envRow(*x)[3]},
		{"callback success URL", orDash(x.CallbackSuccessUrl)},
		{"callback failure URL", orDash(x.CallbackFailureUrl)},
		{"callback pending URL", orDash(x.CallbackPendingUrl)},
		{"callback cancel URL", orDash(x.CallbackCancelUrl)},
		{"credentials set", credsSet(x.Credentials)},
		{"updated", x.UpdatedAt.UTC().Format(time.RFC3339)},
	}
	return writeTable(e.Out, nil, rows)
}

func envsUpdate(ctx context.Context, e *Env, args []string) error {
	fs := newFlags("envs update")
	te := addTenantEnv(fs, "")
	auth := fs.String("auth-mode", "", "signature, token or none")
	allow := fs.String("ip-allow-list", "", "comma-separated CIDRs; empty clears")
	urls := map[string]*string{}
	for _, n := range []string{"success", "failure", "pending", "cancel"} {
		urls[n] = fs.String("callback-"+n+"-url", "", "callback URL; empty clears")
	}
	_, err := parseArgs(fs, args, te.check)
	if err != nil {
		return err
	}
	set := setFlags(fs)
	delete(set, "tenant")
	delete(set, "env")
	if len(set) == 0 {
		return usageErrorf("nothing to change: see partnerhub envs update --help")
	}
	var body client.UpdateEnvironmentJSONRequestBody
	if set["auth-mode"] {
		switch *auth {
		case "signature", "token", "none":
			body.AuthMode = ptr(client.UpdateEnvironmentInputBodyAuthMode(*auth))
		default:
			return usageErrorf("--auth-mode must be signature, token or none")
		}
	}
	if set["ip-allow-list"] {
		list := []string{}
		for _, c := range strings.Split(*allow, ",") {
			if c = strings.TrimSpace(c); c != "" {
				list = append(list, c)
			}
		}
		body.IpAllowList = &list
	}
	if set["callback-success-url"] {
		body.CallbackSuccessUrl = urls["success"]
	}
	if set["callback-failure-url"] {
		body.CallbackFailureUrl = urls["failure"]
	}
	if set["callback-pending-url"] {
		body.CallbackPendingUrl = urls["pending"]
	}
	if set["callback-cancel-url"] {
		body.CallbackCancelUrl = urls["cancel"]
	}
	name := *te.tenant + "/" + *te.env
	op, check := "update environment "+name, "partnerhub envs show --tenant "+*te.tenant+" --env "+*te.env
	r, err := e.Client.UpdateEnvironmentWithResponse(ctx, *te.tenant, *te.env, body)
	if err := call(op, check, err, statusOf(r), bodyOf(r)); err != nil {
		return err
	}
	u, err := decoded(op, check, r, r.JSON200)
	if err != nil {
		return err
	}
	if e.JSON {
		return writeJSON(e.Out, u)
	}
	x := client.Environment{ActivePluginId: u.ActivePluginId, AuthMode: client.EnvironmentAuthMode(u.AuthMode), CallbackSuccessUrl: u.CallbackSuccessUrl,
		Credentials: u.Credentials, IpAllowList: u.IpAllowList, Name: client.EnvironmentName(u.Name), UpdatedAt: u.UpdatedAt}
	if err := writeTable(e.Out, envHeaders, [][]string{envRow(x)}); err != nil {
		return err
	}
	if u.WebhookToken != nil {
		e.Printf("\nWebhook token (shown once, store it now):\n%s\nWebhook URL for the Pay1st Console (shown once):\n%s\n", *u.WebhookToken, orDash(u.WebhookUrl))
	}
	return nil
}

var urlHeaders = []string{"FIELD", "URL", "WHAT"}

func envsURLs(ctx context.Context, e *Env, args []string) error {
	fs := newFlags("envs urls")
	te := addTenantEnv(fs, "")
	_, err := parseArgs(fs, args, te.check)
	if err != nil {
		return err
	}
	op := "integration URLs of " + *te.tenant + "/" + *te.env
	r, err := e.Client.GetIntegrationUrlsWithResponse(ctx, *te.tenant, *te.env)
	if err := call(op, "", err, statusOf(r), bodyOf(r)); err != nil {
		return err
	}
	urls, err := decoded(op, "", r, r.JSON200)
	if err != nil {
		return err
	}
	var rows [][]string
	if urls.Urls != nil {
		for _, u := range *urls.Urls {
			rows = append(rows, []string{u.Name, u.Url, u.Description})
		}
	}
	return e.Render(urls, urlHeaders, rows)
}

var credHeaders = []string{"CREDENTIAL", "SET", "UPDATED"}

func credRows(c client.EnvironmentCredentials) [][]string {
	row := func(name string, set bool, at *time.Time) []string {
		return []string{name, strconv.FormatBool(set), timeOrDash(at)}
	}
	rows := [][]string{
		row("apiKey", c.ApiKeySet, c.ApiKeyUpdatedAt),
		row("apiSecret", c.ApiSecretSet, c.ApiSecretUpdatedAt),
		row("signingKey", c.SigningKeySet, c.SigningKeyUpdatedAt),
		row("basicAuthUsername", c.BasicAuthUsernameSet, c.BasicAuthUsernameUpdatedAt),
		row("basicAuthPassword", c.BasicAuthPasswordSet, c.BasicAuthPasswordUpdatedAt),
		row("webhookToken", c.WebhookTokenSet, c.WebhookTokenUpdatedAt),
	}
	if c.PreviousSigningKeyValidUntil != nil {
		rows = append(rows, []string{"previous signingKey", "verifies until", timeOrDash(c.PreviousSigningKeyValidUntil)})
	}
	if c.PreviousWebhookTokenValidUntil != nil {
		rows = append(rows, []string{"previous webhookToken", "verifies until", timeOrDash(c.PreviousWebhookTokenValidUntil)})
	}
	return rows
}

func credentialsShow(ctx context.Context, e *Env, args []string) error {
	fs := newFlags("credentials show")
	te := addTenantEnv(fs, "")
	_, err := parseArgs(fs, args, te.check)
	if err != nil {
		return err
	}
	x, err := getEnv(ctx, e, *te.tenant, *te.env)
	if err != nil {
		return err
	}
	return e.Render(x.Credentials, credHeaders, credRows(x.Credentials))
}

// parseCredentials reads the credentials document: a YAML (or JSON) mapping
// of the SetCredentialsBody fields. Unknown fields are refused, so a typo
// does not silently leave a secret unset.
func parseCredentials(data []byte) (client.SetCredentialsBody, error) {
	var body client.SetCredentialsBody
	var m map[string]string
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&m); err != nil {
		if err == io.EOF {
			return body, usageErrorf("credentials: empty input (want a YAML or JSON mapping, see --help)")
		}
		// The parser's message may quote the input: keep secrets out of it.
		return body, usageErrorf("credentials: not a YAML or JSON mapping of strings")
	}
	if len(m) == 0 {
		return body, usageErrorf("credentials: no fields (see --help)")
	}
	for k, v := range m {
		v := v
		switch k {
		case "apiKey":
			body.ApiKey = &v
		case "apiSecret":
			body.ApiSecret = &v
		case "signingKey":
			body.SigningKey = &v
		case "basicAuthUsername":
			body.BasicAuthUsername = &v
		case "basicAuthPassword":
			body.BasicAuthPassword = &v
		default:
			return body, usageErrorf("credentials: unknown field %q (want apiKey, apiSecret, signingKey, basicAuthUsername, basicAuthPassword)", k)
		}
	}
	return body, nil
}

// readInput reads a file, or stdin for "" or "-", at most limit bytes;
// Ctrl-C ends a read from stdin that is still waiting.
func readInput(ctx context.Context, e *Env, path string, limit int64) ([]byte, error) {
	var r io.Reader = e.in
	if path != "" && path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, usageErrorf("%v", err)
		}
		defer f.Close()
		r = f
	}
	if r == nil {
		return nil, usageErrorf("no input: pass --file PATH")
	}
	data, err := readAll(ctx, r, limit)
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, usageErrorf("input larger than %d bytes", limit)
	}
	return data, nil
}

func credentialsSet(ctx context.Context, e *Env, args []string) error {
	fs := newFlags("credentials set")
	te := addTenantEnv(fs, "")
	file := fs.String("file", "", "YAML/JSON credentials file; - or absent: stdin")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageErrorf("credentials set takes no arguments: secrets come from stdin or --file, never the command line")
	}
	if err := te.check(); err != nil {
		return err
	}
	if (*file == "" || *file == "-") && e.inTerminal {
		fmt.Fprintln(e.Err, "Reading credentials (YAML or JSON, see --help) from stdin; end with Ctrl-D.")
	}
	data, err := readInput(ctx, e, *file, maxSecretsInput)
	if err != nil {
		return err
	}
	body, err := parseCredentials(data)
	if err != nil {
		return err
	}
	name := *te.tenant + "/" + *te.env
	op, check := "set credentials of "+name, "partnerhub credentials show --tenant "+*te.tenant+" --env "+*te.env
	r, err := e.Client.SetEnvironmentCredentialsWithResponse(ctx, *te.tenant, *te.env, body)
	if err := call(op, check, err, statusOf(r), bodyOf(r)); err != nil {
		return err
	}
	c, err := decoded(op, check, r, r.JSON200)
	if err != nil {
		return err
	}
	return e.Render(c, credHeaders, credRows(*c))
}

func credentialsRotate(ctx context.Context, e *Env, args []string) error {
	fs := newFlags("credentials rotate")
	te := addTenantEnv(fs, "")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || (pos[0] != "signing-key" && pos[0] != "webhook-token") {
		return usageErrorf("credentials rotate needs signing-key or webhook-token")
	}
	if err := te.check(); err != nil {
		return err
	}
	name := *te.tenant + "/" + *te.env
	check := "partnerhub credentials show --tenant " + *te.tenant + " --env " + *te.env
	if pos[0] == "signing-key" {
		op := "rotate the signing key of " + name
		r, err := e.Client.RotateSigningKeyWithResponse(ctx, *te.tenant, *te.env)
		if err := call(op, check, err, statusOf(r), bodyOf(r)); err != nil {
			return err
		}
		k, err := decoded(op, check, r, r.JSON200)
		if err != nil {
			return err
		}
		if e.JSON {
			return writeJSON(e.Out, k)
		}
		e.Printf("New Signing Key for %s (shown once, store it now):\n%s\n", name, k.SigningKey)
		return nil
	}
	op := "rotate the webhook token of " + name
	r, err := e.Client.RotateWebhookTokenWithResponse(ctx, *te.tenant, *te.env)
	if err := call(op, check, err, statusOf(r), bodyOf(r)); err != nil {
		return err
	}
	tok, err := decoded(op, check, r, r.JSON200)
	if err != nil {
		return err
	}
	if e.JSON {
		return writeJSON(e.Out, tok)
	}
	e.Printf("New webhook token for %s (shown once, store it now):\n%s\nWebhook URL for the Pay1st Console:\n%s\n", name, tok.WebhookToken, tok.WebhookUrl)
	return nil
}
