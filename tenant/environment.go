package tenant

import (
	"bytes"
	"crypto/subtle"
	"fmt"
	"log/slog"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Limits on environment settings.
const (
	// MaxCredentialLen bounds each Pay1st credential, in bytes.
	MaxCredentialLen = 512
	// MaxAllowListEntries bounds an environment's IP allow-list.
	MaxAllowListEntries = 100
	// MaxCallbackURLLen bounds each callback URL, in bytes.
	MaxCallbackURLLen = 2048
	// DefaultSecretGrace is how long a replaced Signing Key or webhook token
	// still verifies, unless configured otherwise (PARTNERHUB_SIGNING_KEY_GRACE).
	DefaultSecretGrace = 24 * time.Hour
	// MaxSecretGrace bounds that grace period.
	MaxSecretGrace = 30 * 24 * time.Hour
)

// Env is what the Pay1st-facing endpoints need to know about one tenant
// environment: identity, status, auth mode, opened secrets and allow-list.
// It is cached (envCacheTTL, envCacheWatchedTTL) and shared: treat it as read-only.
type Env struct {
	TenantID     int64
	PartnerCode  string
	PartnerID    int64
	TenantStatus string
	Name         string
	AuthMode     string
	SigningKey   string // opened; empty when not configured
	// PreviousSigningKey is the key SigningKey replaced; it still verifies
	// until PreviousSigningKeyUntil (the rotation grace period).
	PreviousSigningKey      string
	PreviousSigningKeyUntil time.Time
	// WebhookToken is the secret of auth mode token; empty in other modes.
	WebhookToken              string
	PreviousWebhookToken      string
	PreviousWebhookTokenUntil time.Time
	// IPAllowList restricts where payment events may come from; empty
	// means anywhere.
	IPAllowList    []netip.Prefix
	ActivePluginID int64 // 0 when none
	// BasicAuthUsername and BasicAuthPassword (opened; empty when not
	// configured) key the Summary Webhook's signature and guard the User
	// Info Webhook.
	BasicAuthUsername string
	BasicAuthPassword string
	// Callbacks are where customer returns are redirected.
	Callbacks Callbacks
}

// LogValue keeps opened secrets out of logs: an Env logged whole shows only
// who it is and how it authenticates.
func (e Env) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("partner_code", e.PartnerCode), slog.String("env", e.Name),
		slog.String("auth_mode", e.AuthMode), slog.String("tenant_status", e.TenantStatus),
		slog.Int64("active_plugin_id", e.ActivePluginID))
}

// SigningKeys returns the keys that verify a signature at now: the current
// one, and the previous one during its grace period.
func (e Env) SigningKeys(now time.Time) []string {
	return liveSecrets(e.SigningKey, e.PreviousSigningKey, e.PreviousSigningKeyUntil, now)
}

// ValidWebhookToken reports, in constant time for each candidate, whether
// token is the environment's webhook token, or the previous one during its
// grace period.
func (e Env) ValidWebhookToken(token string, now time.Time) bool {
	ok := false
	for _, t := range liveSecrets(e.WebhookToken, e.PreviousWebhookToken, e.PreviousWebhookTokenUntil, now) {
		if subtle.ConstantTimeCompare([]byte(token), []byte(t)) == 1 {
			ok = true
		}
	}
	return ok && token != ""
}

// AllowsAddr reports whether a payment event from addr passes the IP
// allow-list. IPv4-mapped IPv6 addresses count as IPv4.
func (e Env) AllowsAddr(addr netip.Addr) bool {
	if len(e.IPAllowList) == 0 {
		return true
	}
	addr = addr.Unmap().WithZone("")
	for _, p := range e.IPAllowList {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// RedactWebhookTokens returns b with every webhook token of the environment
// replaced: Pay1st echoes the Webhook URL (token included) in the events'
// partnerWebhookUrl, and what is recorded must never hold the token.
func (e Env) RedactWebhookTokens(b []byte) []byte {
	for _, t := range []string{e.WebhookToken, e.PreviousWebhookToken} {
		if t != "" && bytes.Contains(b, []byte(t)) {
			b = bytes.ReplaceAll(b, []byte(t), []byte(RedactedToken))
		}
	}
	return b
}

// RedactedToken replaces a webhook token in recorded deliveries.
const RedactedToken = "REDACTED"

func liveSecrets(current, previous string, until, now time.Time) []string {
	var out []string
	if current != "" {
		out = append(out, current)
	}
	if previous != "" && now.Before(until) {
		out = append(out, previous)
	}
	return out
}

// Callbacks are the four URLs Pay1st's customer redirects end at, per
// outcome (pay1st-protocol.md §2); "" when not configured.
type Callbacks struct {
	Success string
	Failure string
	Pending string
	Cancel  string
}

// SecretState says whether a write-only credential is set, and when it last
// changed; never its value.
type SecretState struct {
	Set       bool
	UpdatedAt time.Time // zero when never set
}

// CredentialState is what may be shown about an environment's secrets.
type CredentialState struct {
	APIKey            SecretState
	APISecret         SecretState
	SigningKey        SecretState
	BasicAuthUsername SecretState
	BasicAuthPassword SecretState
	WebhookToken      SecretState
	// When the replaced Signing Key / webhook token stops verifying; zero
	// when there is none or its grace period is over.
	PreviousSigningKeyUntil   time.Time
	PreviousWebhookTokenUntil time.Time
}

// EnvSettings is a tenant environment as the management API shows it:
// settings in clear, credentials only as set / not set.
type EnvSettings struct {
	TenantID       int64
	Name           string
	AuthMode       string
	IPAllowList    []netip.Prefix
	Callbacks      Callbacks
	ActivePluginID int64 // 0 when none; set through plugin management
	Credentials    CredentialState
	UpdatedAt      time.Time
}

// EnvPatch changes an environment's settings; nil fields stay as they are.
type EnvPatch struct {
	AuthMode *string
	// IPAllowList replaces the list: CIDRs or single addresses; empty clears.
	IPAllowList        *[]string
	CallbackSuccessURL *string // "" clears
	CallbackFailureURL *string
	CallbackPendingURL *string
	CallbackCancelURL  *string
}

// EnvChanged is an environment after a change, with the webhook token the
// change generated (switching to token mode), shown once.
type EnvChanged struct {
	EnvSettings
	WebhookToken string
}

// Credentials are Pay1st credentials to set; nil fields stay as they are.
// Setting SigningKey rotates: the replaced key verifies for the grace period.
type Credentials struct {
	APIKey            *string
	APISecret         *string
	SigningKey        *string
	BasicAuthUsername *string
	BasicAuthPassword *string
}

// Rotated is an environment after a rotation, with the new secret shown once.
type Rotated struct {
	EnvSettings
	Secret string
}

// credential names a sealed column: its API field name and its seal context
// prefix (the column name).
type credential struct {
	field  string
	column string
}

var (
	credAPIKey            = credential{"apiKey", "api_key"}
	credAPISecret         = credential{"apiSecret", "api_secret"}
	credSigningKey        = credential{"signingKey", "signing_key"}
	credPrevSigningKey    = credential{"previousSigningKey", "previous_signing_key"}
	credBasicAuthUsername = credential{"basicAuthUsername", "basic_auth_username"}
	credBasicAuthPassword = credential{"basicAuthPassword", "basic_auth_password"}
	credWebhookToken      = credential{"webhookToken", "webhook_token"}
	credPrevWebhookToken  = credential{"previousWebhookToken", "previous_webhook_token"}
)

// sealContext binds a sealed value to its tenant, environment and column, so
// a ciphertext copied to another row or column does not open. The signing
// key's context is the one issue 2 used (signingKeyContext).
func sealContext(c credential, tenantID int64, env string) string {
	return c.column + ":" + strconv.FormatInt(tenantID, 10) + ":" + env
}

// NewWebhookToken returns a random webhook token (256 bits, URL-safe).
func NewWebhookToken() string { return NewSigningKey() }

// Validate checks every given credential. Problems never quote the value.
func (c Credentials) Validate() error {
	for _, f := range []struct {
		cred credential
		v    *string
	}{
		{credAPIKey, c.APIKey}, {credAPISecret, c.APISecret}, {credSigningKey, c.SigningKey},
		{credBasicAuthUsername, c.BasicAuthUsername}, {credBasicAuthPassword, c.BasicAuthPassword},
	} {
		if f.v == nil {
			continue
		}
		if p := credentialProblem(*f.v); p != "" {
			return &FieldError{Field: f.cred.field, Problem: p}
		}
	}
	if c.BasicAuthUsername != nil && strings.Contains(*c.BasicAuthUsername, ":") {
		// RFC 7617: the user-id of Basic auth cannot contain a colon.
		return &FieldError{Field: credBasicAuthUsername.field, Problem: "must not contain ':'"}
	}
	return nil
}

func (c Credentials) empty() bool {
	return c.APIKey == nil && c.APISecret == nil && c.SigningKey == nil && c.BasicAuthUsername == nil && c.BasicAuthPassword == nil
}

func credentialProblem(v string) string {
	switch {
	case v == "" || len(v) > MaxCredentialLen:
		return fmt.Sprintf("must be 1 to %d bytes", MaxCredentialLen)
	case !utf8.ValidString(v):
		return "must be UTF-8 text"
	case strings.IndexFunc(v, unicode.IsControl) >= 0:
		return "must not contain control characters"
	case strings.TrimSpace(v) != v:
		return "must not start or end with white space"
	}
	return ""
}

// apply validates p for environment env and applies it to s. It does not
// touch the webhook token: the service does, as it needs to seal.
func (p EnvPatch) apply(env string, s *EnvSettings) error {
	if p.AuthMode != nil {
		switch m := *p.AuthMode; {
		case m != AuthSignature && m != AuthToken && m != AuthNone:
			return &FieldError{Field: "authMode", Problem: "must be signature, token or none"}
		case m == AuthNone && env != Staging:
			return &FieldError{Field: "authMode", Problem: "none is allowed in staging only"}
		default:
			s.AuthMode = m
		}
	}
	if p.IPAllowList != nil {
		list, err := ParseAllowList(*p.IPAllowList)
		if err != nil {
			return err
		}
		s.IPAllowList = list
	}
	for _, cb := range []struct {
		field string
		v     *string
		dst   *string
	}{
		{"callbackSuccessUrl", p.CallbackSuccessURL, &s.Callbacks.Success},
		{"callbackFailureUrl", p.CallbackFailureURL, &s.Callbacks.Failure},
		{"callbackPendingUrl", p.CallbackPendingURL, &s.Callbacks.Pending},
		{"callbackCancelUrl", p.CallbackCancelURL, &s.Callbacks.Cancel},
	} {
		if cb.v == nil {
			continue
		}
		if err := ValidCallbackURL(env, *cb.v); err != "" {
			return &FieldError{Field: cb.field, Problem: err}
		}
		*cb.dst = *cb.v
	}
	return nil
}

// changedFields names the fields p sets, for the audit log.
func (p EnvPatch) changedFields() []string {
	var out []string
	for _, f := range []struct {
		name string
		set  bool
	}{
		{"authMode", p.AuthMode != nil}, {"ipAllowList", p.IPAllowList != nil},
		{"callbackSuccessUrl", p.CallbackSuccessURL != nil}, {"callbackFailureUrl", p.CallbackFailureURL != nil},
		{"callbackPendingUrl", p.CallbackPendingURL != nil}, {"callbackCancelUrl", p.CallbackCancelURL != nil},
	} {
		if f.set {
			out = append(out, f.name)
		}
	}
	return out
}

// ValidCallbackURL returns why v cannot be a callback URL of environment
// env, or "" when it can ("" itself clears the URL): absolute https (http in
// staging only), a host, no credentials, no white space, at most
// MaxCallbackURLLen bytes.
func ValidCallbackURL(env, v string) string {
	if v == "" {
		return ""
	}
	if len(v) > MaxCallbackURLLen {
		return fmt.Sprintf("must be at most %d bytes", MaxCallbackURLLen)
	}
	if !utf8.ValidString(v) || strings.IndexFunc(v, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 {
		return "must not contain white space or control characters"
	}
	u, err := url.Parse(v)
	if err != nil || !u.IsAbs() || u.Opaque != "" {
		return "must be an absolute URL"
	}
	switch {
	case u.Scheme == "http" && env != Staging:
		return "must be https (http is allowed in staging only)"
	case u.Scheme != "https" && u.Scheme != "http":
		return "must be an https URL"
	case u.Hostname() == "":
		return "must name a host"
	case u.User != nil:
		return "must not carry a user name or password"
	}
	return ""
}

// ParseAllowList parses an IP allow-list: CIDRs ("203.0.113.0/24",
// "2001:db8::/32") or single addresses (taken as /32 or /128). A CIDR with
// host bits set is refused rather than guessed at; duplicates are dropped.
func ParseAllowList(entries []string) ([]netip.Prefix, error) {
	if len(entries) > MaxAllowListEntries {
		return nil, &FieldError{Field: "ipAllowList", Problem: fmt.Sprintf("must have at most %d entries", MaxAllowListEntries)}
	}
	out := make([]netip.Prefix, 0, len(entries))
	for i, e := range entries {
		field := "ipAllowList[" + strconv.Itoa(i) + "]"
		p, problem := parseAllowEntry(e)
		if problem != "" {
			return nil, &FieldError{Field: field, Problem: problem}
		}
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out, nil
}

func parseAllowEntry(e string) (netip.Prefix, string) {
	if len(e) > 64 {
		return netip.Prefix{}, "must be a CIDR such as 203.0.113.0/24 or an IP address"
	}
	var p netip.Prefix
	if strings.Contains(e, "/") {
		var err error
		if p, err = netip.ParsePrefix(e); err != nil {
			return p, fmt.Sprintf("%q is not a CIDR such as 203.0.113.0/24 or 2001:db8::/32", e)
		}
		if p != p.Masked() {
			return p, fmt.Sprintf("%q has host bits set; did you mean %s?", e, p.Masked())
		}
	} else {
		a, err := netip.ParseAddr(e)
		if err != nil || a.Zone() != "" {
			return p, fmt.Sprintf("%q is not an IP address or CIDR", e)
		}
		p = netip.PrefixFrom(a, a.BitLen())
	}
	if p.Addr().Is4In6() {
		return p, fmt.Sprintf("%q is an IPv4-mapped IPv6 address; write it as IPv4", e)
	}
	return p, ""
}

// IntegrationURL is one URL the studio pastes into the Pay1st Console.
type IntegrationURL struct {
	Key         string // stable identifier, e.g. webhookUrl
	Name        string // as the Pay1st Console and its documentation name it
	Description string
	URL         string
}

// WebhookURL is the Payment Webhook Events URL of a tenant environment,
// without the token of token mode.
func WebhookURL(publicURL, partnerCode, env string) string {
	return endpointBase(publicURL, partnerCode, env) + "/payment-events"
}

func endpointBase(publicURL, partnerCode, env string) string {
	return strings.TrimRight(publicURL, "/") + "/pay1st/" + env + "/" + partnerCode
}

// WebhookTokenPlaceholder stands for the real token in the Webhook URL shown
// by IntegrationURLs: the token itself is shown only when it is generated.
const WebhookTokenPlaceholder = "<your webhook token>"

// IntegrationURLs fills in the seed's table (webhooks-and-callbacks.txt,
// plus the Shop's Summary and User Info webhooks) for one tenant
// environment, from the public base URL partnerhub is reached at.
func IntegrationURLs(publicURL, partnerCode, env, authMode string) []IntegrationURL {
	base := endpointBase(publicURL, partnerCode, env)
	webhook := WebhookURL(publicURL, partnerCode, env)
	webhookDesc := "This is used in order to send payment status updates to the Partner backend server. The payload sent to this URL is called Payment Webhook Events. " +
		"partnerhub receives them and verifies them per the environment's auth mode (" + authMode + ")."
	if authMode == AuthToken {
		webhook += "?token=" + WebhookTokenPlaceholder
		webhookDesc += " Replace " + WebhookTokenPlaceholder + " with the token shown when token mode was set or the token was last rotated; partnerhub never shows it again."
	}
	redirect := " partnerhub's redirect endpoint sends the customer on (303) to the environment's configured callback URL. " +
		"Not served yet: the redirect endpoint arrives with issue 4; until then this URL answers 404."
	return []IntegrationURL{
		{Key: "webhookUrl", Name: "Webhook URL", Description: webhookDesc, URL: webhook},
		{Key: "callbackSuccessUrl", Name: "Success Callback URL",
			Description: "After a successful payment, this URL will be used as the default URL when redirecting a customer." + redirect,
			URL:         base + "/return/success"},
		{Key: "callbackFailureUrl", Name: "Failure Callback URL",
			Description: "After a failed payment, this URL will be used as the default URL when redirecting a customer." + redirect,
			URL:         base + "/return/failure"},
		{Key: "callbackPendingUrl", Name: "Pending Callback URL",
			Description: "When a payment is in a pending status, this URL will be used as the default URL when redirecting a customer." + redirect,
			URL:         base + "/return/pending"},
		{Key: "callbackCancelUrl", Name: "Cancel Callback URL",
			Description: "After a cancelled payment, this URL will be used as the default URL when redirecting a customer." + redirect,
			URL:         base + "/return/cancel"},
		{Key: "summaryWebhookUrl", Name: "Summary Webhook URL",
			Description: "Shop integration: Pay1st posts here when a Shop payment completed and the player must be credited. " +
				"Signed with X-SIGNATURE from the environment's Basic Auth credentials. Not served yet: it arrives with the Shop webhooks.",
			URL: base + "/summary"},
		{Key: "userInfoWebhookUrl", Name: "User Info Webhook URL",
			Description: "Shop and Gateway integrations: Pay1st calls it (GET ?playerId=...) to validate a player before a purchase; " +
				"answered by the environment's active plugin. Not served yet: it arrives with the Shop webhooks.",
			URL: base + "/user-info"},
	}
}
