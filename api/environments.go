package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"reflect"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/partnerhub/partnerhub/tenant"
)

// EnvironmentHandler serves a tenant's environments (staging, production):
// settings, write-only Pay1st credentials, rotations and the integration
// URLs to paste into the Pay1st Console.
type EnvironmentHandler struct {
	tenants   *tenant.Service
	logger    *slog.Logger
	publicURL string
}

const envTag = "Environments"

// maxCredentialsBody bounds set-environment-credentials' body: five
// credentials of at most tenant.MaxCredentialLen bytes, JSON-escaped.
const maxCredentialsBody = 16 << 10

// Environment is a tenant environment as the API shows it. Credentials are
// write-only: only whether each is set, and when it last changed.
type Environment struct {
	Name     string `json:"name" enum:"staging,production" example:"staging" doc:"The environment."`
	AuthMode string `json:"authMode" enum:"signature,token,none" example:"token" doc:"How Payment Webhook Events are authenticated: signature (X-SIGNATURE and X-TIMESTAMP with the Signing Key), token (?token= in the Webhook URL) or none (staging only)."`
	// Always a list ([] when any address may call), never null.
	IPAllowList        []string               `json:"ipAllowList" nullable:"false" doc:"CIDRs payment events may come from, checked against the TCP peer address; empty means any."`
	CallbackSuccessURL string                 `json:"callbackSuccessUrl,omitempty" example:"https://game.example.com/pay/success" doc:"Where customers go after a successful payment; absent when not configured."`
	CallbackFailureURL string                 `json:"callbackFailureUrl,omitempty" example:"https://game.example.com/pay/failure" doc:"Where customers go after a failed payment."`
	CallbackPendingURL string                 `json:"callbackPendingUrl,omitempty" example:"https://game.example.com/pay/pending" doc:"Where customers go while a payment is pending."`
	CallbackCancelURL  string                 `json:"callbackCancelUrl,omitempty" example:"https://game.example.com/pay/cancel" doc:"Where customers go after a cancelled payment."`
	ActivePluginID     int64                  `json:"activePluginId,omitempty" example:"7" doc:"The fulfilment plugin in use; absent when none. Set through plugin management."`
	Credentials        EnvironmentCredentials `json:"credentials"`
	UpdatedAt          time.Time              `json:"updatedAt" doc:"When its settings last changed."`
}

// EnvironmentCredentials says which Pay1st credentials an environment has,
// and when each last changed; never their values.
type EnvironmentCredentials struct {
	APIKeySet                      bool       `json:"apiKeySet" doc:"Whether the Pay1st API Key is set."`
	APIKeyUpdatedAt                *time.Time `json:"apiKeyUpdatedAt,omitempty" doc:"When the API Key last changed; absent when not set."`
	APISecretSet                   bool       `json:"apiSecretSet" doc:"Whether the Pay1st API Secret is set."`
	APISecretUpdatedAt             *time.Time `json:"apiSecretUpdatedAt,omitempty" doc:"When the API Secret last changed; absent when not set."`
	SigningKeySet                  bool       `json:"signingKeySet" doc:"Whether the Signing Key is set; without it, signature mode refuses every event."`
	SigningKeyUpdatedAt            *time.Time `json:"signingKeyUpdatedAt,omitempty" doc:"When the Signing Key last changed (set or rotated); absent when not set."`
	PreviousSigningKeyValidUntil   *time.Time `json:"previousSigningKeyValidUntil,omitempty" doc:"Until when the replaced Signing Key still verifies (rotation grace period); absent when none does."`
	BasicAuthUsernameSet           bool       `json:"basicAuthUsernameSet" doc:"Whether the Basic Auth username (Summary webhook signature, User Info webhook) is set."`
	BasicAuthUsernameUpdatedAt     *time.Time `json:"basicAuthUsernameUpdatedAt,omitempty" doc:"When the Basic Auth username last changed; absent when not set."`
	BasicAuthPasswordSet           bool       `json:"basicAuthPasswordSet" doc:"Whether the Basic Auth password is set."`
	BasicAuthPasswordUpdatedAt     *time.Time `json:"basicAuthPasswordUpdatedAt,omitempty" doc:"When the Basic Auth password last changed; absent when not set."`
	WebhookTokenSet                bool       `json:"webhookTokenSet" doc:"Whether a webhook token exists (token mode only)."`
	WebhookTokenUpdatedAt          *time.Time `json:"webhookTokenUpdatedAt,omitempty" doc:"When the webhook token last changed (set or rotated); absent when none exists."`
	PreviousWebhookTokenValidUntil *time.Time `json:"previousWebhookTokenValidUntil,omitempty" doc:"Until when the replaced webhook token still verifies; absent when none does."`
}

func timeOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func credentialsOut(c tenant.CredentialState) EnvironmentCredentials {
	return EnvironmentCredentials{
		APIKeySet: c.APIKey.Set, APIKeyUpdatedAt: timeOrNil(c.APIKey.UpdatedAt),
		APISecretSet: c.APISecret.Set, APISecretUpdatedAt: timeOrNil(c.APISecret.UpdatedAt),
		SigningKeySet: c.SigningKey.Set, SigningKeyUpdatedAt: timeOrNil(c.SigningKey.UpdatedAt),
		PreviousSigningKeyValidUntil: timeOrNil(c.PreviousSigningKeyUntil),
		BasicAuthUsernameSet:         c.BasicAuthUsername.Set, BasicAuthUsernameUpdatedAt: timeOrNil(c.BasicAuthUsername.UpdatedAt),
		BasicAuthPasswordSet: c.BasicAuthPassword.Set, BasicAuthPasswordUpdatedAt: timeOrNil(c.BasicAuthPassword.UpdatedAt),
		WebhookTokenSet: c.WebhookToken.Set, WebhookTokenUpdatedAt: timeOrNil(c.WebhookToken.UpdatedAt),
		PreviousWebhookTokenValidUntil: timeOrNil(c.PreviousWebhookTokenUntil),
	}
}

func environmentOut(e tenant.EnvSettings) Environment {
	allow := make([]string, 0, len(e.IPAllowList))
	for _, p := range e.IPAllowList {
		allow = append(allow, p.String())
	}
	return Environment{
		Name: e.Name, AuthMode: e.AuthMode, IPAllowList: allow,
		CallbackSuccessURL: e.Callbacks.Success, CallbackFailureURL: e.Callbacks.Failure,
		CallbackPendingURL: e.Callbacks.Pending, CallbackCancelURL: e.Callbacks.Cancel,
		ActivePluginID: e.ActivePluginID, Credentials: credentialsOut(e.Credentials), UpdatedAt: e.UpdatedAt,
	}
}

// EnvironmentPath names a tenant environment.
type EnvironmentPath struct {
	PartnerCode string `path:"partnerCode" maxLength:"64" example:"acme-games" doc:"The tenant's Pay1st partnerCode."`
	Env         string `path:"env" example:"staging" doc:"staging or production; any other name is not found."`
}

// ListEnvironmentsInput names a tenant.
type ListEnvironmentsInput struct {
	PartnerCode string `path:"partnerCode" maxLength:"64" example:"acme-games" doc:"The tenant's Pay1st partnerCode."`
}

// EnvironmentList is both environments of a tenant.
type EnvironmentList struct {
	Items []Environment `json:"items" doc:"staging, then production: always both."`
}

// EnvironmentListOutput is list-environments' answer.
type EnvironmentListOutput struct {
	Body EnvironmentList
}

// EnvironmentOutput is one environment.
type EnvironmentOutput struct {
	Body Environment
}

// UpdateEnvironmentInput is update-environment's: absent fields stay as they are.
type UpdateEnvironmentInput struct {
	EnvironmentPath
	Body struct {
		AuthMode           *string  `json:"authMode,omitempty" enum:"signature,token,none" example:"token" doc:"Switching to token generates a webhook token, returned once in this response; leaving token mode drops it. none is refused in production."`
		IPAllowList        []string `json:"ipAllowList,omitempty" maxItems:"100" maxLength:"64" example:"203.0.113.0/24" doc:"Replaces the allow-list: CIDRs or single IP addresses, at most 100. [] clears it (any address). Checked against the TCP peer address: X-Forwarded-For is not trusted, so behind a proxy list the proxy's addresses."`
		CallbackSuccessURL *string  `json:"callbackSuccessUrl,omitempty" maxLength:"2048" example:"https://game.example.com/pay/success" doc:"Absolute https URL (http allowed in staging), at most 2048 bytes; \"\" clears it."`
		CallbackFailureURL *string  `json:"callbackFailureUrl,omitempty" maxLength:"2048" example:"https://game.example.com/pay/failure" doc:"As callbackSuccessUrl."`
		CallbackPendingURL *string  `json:"callbackPendingUrl,omitempty" maxLength:"2048" example:"https://game.example.com/pay/pending" doc:"As callbackSuccessUrl."`
		CallbackCancelURL  *string  `json:"callbackCancelUrl,omitempty" maxLength:"2048" example:"https://game.example.com/pay/cancel" doc:"As callbackSuccessUrl."`
	}
}

// UpdatedEnvironment is an environment after a change, with the webhook
// token the change generated.
type UpdatedEnvironment struct {
	Environment
	WebhookToken string `json:"webhookToken,omitempty" example:"Zm9yLWRvY3Mtb25seS1ub3QtYS1yZWFsLXRva2VuLTAwMA" doc:"Present only when this change switched to token mode: the new webhook token. Returned once, here only."`
	WebhookURL   string `json:"webhookUrl,omitempty" example:"https://hub.example.com/pay1st/staging/acme-games/payment-events?token=Zm9yLWRvY3Mtb25seS1ub3QtYS1yZWFsLXRva2VuLTAwMA" doc:"With webhookToken: the Webhook URL to paste into the Pay1st Console, token included. Returned once."`
}

// UpdatedEnvironmentOutput is update-environment's answer.
type UpdatedEnvironmentOutput struct {
	Body UpdatedEnvironment
}

// SetCredentialsBody documents set-environment-credentials' body. The body
// is decoded by decodeCredentials, not by Huma: Huma's validation errors
// quote the request, and this one carries secrets.
type SetCredentialsBody struct {
	APIKey            *string `json:"apiKey,omitempty" minLength:"1" maxLength:"512" writeOnly:"true" doc:"Pay1st API Key (Gateway API, with the API Secret)."`
	APISecret         *string `json:"apiSecret,omitempty" minLength:"1" maxLength:"512" writeOnly:"true" doc:"Pay1st API Secret."`
	SigningKey        *string `json:"signingKey,omitempty" minLength:"1" maxLength:"512" writeOnly:"true" doc:"Signing Key: signs Gateway requests and verifies Payment Webhook Events. Setting it rotates: the replaced key still verifies for the configured grace period."`
	BasicAuthUsername *string `json:"basicAuthUsername,omitempty" minLength:"1" maxLength:"512" writeOnly:"true" doc:"Basic Auth username (no ':'): keys the Summary webhook signature and the User Info webhook's Basic auth."`
	BasicAuthPassword *string `json:"basicAuthPassword,omitempty" minLength:"1" maxLength:"512" writeOnly:"true" doc:"Basic Auth password."`
}

// SetCredentialsInput is set-environment-credentials' request.
type SetCredentialsInput struct {
	EnvironmentPath
	RawBody []byte `contentType:"application/json"`
}

// CredentialsOutput is set-environment-credentials' answer.
type CredentialsOutput struct {
	Body EnvironmentCredentials
}

// RotatedSigningKey is a new Signing Key, shown once.
type RotatedSigningKey struct {
	SigningKey  string                 `json:"signingKey" example:"hCyO_Flnu6aid-bhFYTYOowkxXRzoZkgzO32rB6Ik8Y" doc:"The new Signing Key. Returned once, here only: store it now."`
	Credentials EnvironmentCredentials `json:"credentials"`
}

// RotatedSigningKeyOutput is rotate-signing-key's answer.
type RotatedSigningKeyOutput struct {
	Body RotatedSigningKey
}

// RotatedWebhookToken is a new webhook token, shown once.
type RotatedWebhookToken struct {
	WebhookToken string                 `json:"webhookToken" example:"Zm9yLWRvY3Mtb25seS1ub3QtYS1yZWFsLXRva2VuLTAwMA" doc:"The new webhook token. Returned once, here only."`
	WebhookURL   string                 `json:"webhookUrl" example:"https://hub.example.com/pay1st/staging/acme-games/payment-events?token=Zm9yLWRvY3Mtb25seS1ub3QtYS1yZWFsLXRva2VuLTAwMA" doc:"The Webhook URL to paste into the Pay1st Console, token included. Returned once."`
	Credentials  EnvironmentCredentials `json:"credentials"`
}

// RotatedWebhookTokenOutput is rotate-webhook-token's answer.
type RotatedWebhookTokenOutput struct {
	Body RotatedWebhookToken
}

// IntegrationURL is one URL to paste into the Pay1st Console.
type IntegrationURL struct {
	Key         string `json:"key" enum:"webhookUrl,callbackSuccessUrl,callbackFailureUrl,callbackPendingUrl,callbackCancelUrl,summaryWebhookUrl,userInfoWebhookUrl" example:"webhookUrl" doc:"Stable identifier of the entry."`
	Name        string `json:"name" example:"Webhook URL" doc:"The field's name in the Pay1st Console."`
	Description string `json:"description" example:"Where Pay1st sends Payment Webhook Events." doc:"What the field is for."`
	URL         string `json:"url" example:"https://hub.example.com/pay1st/staging/acme-games/payment-events" doc:"The value to paste. In token mode the Webhook URL carries the placeholder <your webhook token>, never the token."`
}

// IntegrationURLs is what the studio pastes into the Pay1st Console for one
// environment.
type IntegrationURLs struct {
	Environment string           `json:"environment" enum:"staging,production" example:"staging" doc:"The environment these URLs belong to."`
	AuthMode    string           `json:"authMode" enum:"signature,token,none" example:"signature" doc:"The environment's auth mode, which decides the Webhook URL's form."`
	URLs        []IntegrationURL `json:"urls" doc:"The Pay1st Console's webhook and callback fields, in its order, then the Shop's Summary and User Info webhooks."`
}

// IntegrationURLsOutput is get-integration-urls' answer.
type IntegrationURLsOutput struct {
	Body IntegrationURLs
}

// Register adds the environment operations to api.
func (h *EnvironmentHandler) Register(api huma.API) {
	base := "/v1/tenants/{partnerCode}/environments"
	readErrs := []int{http.StatusUnauthorized, http.StatusNotFound}
	writeErrs := []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusUnprocessableEntity}
	huma.Register(api, huma.Operation{
		OperationID: "list-environments", Method: http.MethodGet, Path: base, Tags: []string{envTag},
		Summary:     "List a tenant's environments",
		Description: "Both environments, staging then production, with their settings and which credentials are set (never their values).",
		Security:    bearer, Errors: readErrs,
	}, h.list)
	huma.Register(api, huma.Operation{
		OperationID: "get-environment", Method: http.MethodGet, Path: base + "/{env}", Tags: []string{envTag},
		Summary:     "Get an environment",
		Description: "An environment's settings and which credentials are set (never their values).",
		Security:    bearer, Errors: readErrs,
	}, h.get)
	huma.Register(api, huma.Operation{
		OperationID: "update-environment", Method: http.MethodPatch, Path: base + "/{env}", Tags: []string{envTag},
		Summary: "Change an environment's settings",
		Description: "Sets the payment-event auth mode, the IP allow-list and the callback URLs; absent fields stay as they are. " +
			"Switching to token mode generates a webhook token, returned once. Admin tenant keys and operators only.",
		Security: bearer, Errors: writeErrs,
	}, h.update)
	huma.Register(api, huma.Operation{
		OperationID: "set-environment-credentials", Method: http.MethodPut, Path: base + "/{env}/credentials", Tags: []string{envTag},
		Summary: "Set Pay1st credentials",
		Description: "Sets any of the API Key, API Secret, Signing Key and Basic Auth username and password; absent ones stay. " +
			"Write-only: stored encrypted, never returned. Setting the Signing Key rotates it: the replaced key still verifies " +
			"payment events for the configured grace period. Errors never quote the request. Admin tenant keys and operators only.",
		Security: bearer, Errors: append(writeErrs, http.StatusBadRequest),
		MaxBodyBytes: maxCredentialsBody,
		// Huma's body errors quote the body, secrets included: decodeCredentials
		// validates instead.
		SkipValidateBody: true,
	}, h.setCredentials)
	// The body is read raw (see SetCredentialsBody); document its real shape.
	if p := api.OpenAPI().Paths[base+"/{env}/credentials"]; p != nil && p.Put != nil && p.Put.RequestBody != nil {
		p.Put.RequestBody.Content["application/json"] = &huma.MediaType{
			Schema: api.OpenAPI().Components.Schemas.Schema(reflect.TypeFor[SetCredentialsBody](), true, ""),
		}
	}
	huma.Register(api, huma.Operation{
		OperationID: "rotate-signing-key", Method: http.MethodPost, Path: base + "/{env}/signing-key/rotate", Tags: []string{envTag},
		Summary: "Generate a new Signing Key",
		Description: "Replaces the Signing Key with a random one, returned once. The replaced key still verifies payment events " +
			"for the configured grace period. Admin tenant keys and operators only.",
		Security: bearer, Errors: writeErrs,
	}, h.rotateSigningKey)
	huma.Register(api, huma.Operation{
		OperationID: "rotate-webhook-token", Method: http.MethodPost, Path: base + "/{env}/webhook-token/rotate", Tags: []string{envTag},
		Summary: "Generate a new webhook token",
		Description: "Token mode only (otherwise 422 on authMode). Replaces the webhook token with a random one, returned once " +
			"with the Webhook URL to paste; the replaced token still verifies for the configured grace period. Admin tenant keys and operators only.",
		Security: bearer, Errors: writeErrs,
	}, h.rotateWebhookToken)
	huma.Register(api, huma.Operation{
		OperationID: "get-integration-urls", Method: http.MethodGet, Path: base + "/{env}/integration", Tags: []string{envTag},
		Summary: "URLs to paste into the Pay1st Console",
		Description: "Every URL the studio configures in the Pay1st Console for this environment: the Webhook URL, the four " +
			"Callback URLs (partnerhub's redirect endpoints, which send the customer on to the environment's callback URLs), " +
			"and the Shop's Summary and User Info Webhook URLs. Built from partnerhub's public URL. In token mode the Webhook " +
			"URL shows a placeholder instead of the token.",
		Security: bearer, Errors: readErrs,
	}, h.integration)
}

func (h *EnvironmentHandler) list(ctx context.Context, in *ListEnvironmentsInput) (*EnvironmentListOutput, error) {
	t, err := visibleTenant(ctx, h.tenants, in.PartnerCode)
	if err != nil {
		return nil, problem(ctx, h.logger, err)
	}
	envs, err := h.tenants.Environments(ctx, t)
	if err != nil {
		return nil, problem(ctx, h.logger, err)
	}
	out := &EnvironmentListOutput{Body: EnvironmentList{Items: make([]Environment, 0, len(envs))}}
	for _, e := range envs {
		out.Body.Items = append(out.Body.Items, environmentOut(e))
	}
	return out, nil
}

func (h *EnvironmentHandler) get(ctx context.Context, in *EnvironmentPath) (*EnvironmentOutput, error) {
	t, err := visibleTenant(ctx, h.tenants, in.PartnerCode)
	if err != nil {
		return nil, problem(ctx, h.logger, err)
	}
	e, err := h.tenants.Environment(ctx, t, in.Env)
	if err != nil {
		return nil, problem(ctx, h.logger, err)
	}
	return &EnvironmentOutput{Body: environmentOut(e)}, nil
}

func (h *EnvironmentHandler) update(ctx context.Context, in *UpdateEnvironmentInput) (*UpdatedEnvironmentOutput, error) {
	t, err := writableTenant(ctx, h.tenants, in.PartnerCode)
	if err != nil {
		return nil, problem(ctx, h.logger, err)
	}
	p := tenant.EnvPatch{
		AuthMode:           in.Body.AuthMode,
		CallbackSuccessURL: in.Body.CallbackSuccessURL, CallbackFailureURL: in.Body.CallbackFailureURL,
		CallbackPendingURL: in.Body.CallbackPendingURL, CallbackCancelURL: in.Body.CallbackCancelURL,
	}
	if in.Body.IPAllowList != nil {
		p.IPAllowList = &in.Body.IPAllowList
	}
	c, err := h.tenants.UpdateEnvironment(ctx, t, in.Env, p)
	if err != nil {
		return nil, problem(ctx, h.logger, err)
	}
	out := &UpdatedEnvironmentOutput{Body: UpdatedEnvironment{Environment: environmentOut(c.EnvSettings)}}
	if c.WebhookToken != "" {
		out.Body.WebhookToken = c.WebhookToken
		out.Body.WebhookURL = h.webhookURL(t, c.Name, c.WebhookToken)
	}
	return out, nil
}

func (h *EnvironmentHandler) setCredentials(ctx context.Context, in *SetCredentialsInput) (*CredentialsOutput, error) {
	t, err := writableTenant(ctx, h.tenants, in.PartnerCode)
	if err != nil {
		return nil, problem(ctx, h.logger, err)
	}
	body, err := decodeCredentials(in.RawBody)
	var malformed huma.StatusError
	if errors.As(err, &malformed) {
		return nil, malformed
	}
	if err != nil {
		return nil, problem(ctx, h.logger, err)
	}
	e, err := h.tenants.SetCredentials(ctx, t, in.Env, tenant.Credentials{
		APIKey: body.APIKey, APISecret: body.APISecret, SigningKey: body.SigningKey,
		BasicAuthUsername: body.BasicAuthUsername, BasicAuthPassword: body.BasicAuthPassword,
	})
	if err != nil {
		return nil, problem(ctx, h.logger, err)
	}
	return &CredentialsOutput{Body: credentialsOut(e.Credentials)}, nil
}

func (h *EnvironmentHandler) rotateSigningKey(ctx context.Context, in *EnvironmentPath) (*RotatedSigningKeyOutput, error) {
	t, err := writableTenant(ctx, h.tenants, in.PartnerCode)
	if err != nil {
		return nil, problem(ctx, h.logger, err)
	}
	r, err := h.tenants.RotateSigningKey(ctx, t, in.Env)
	if err != nil {
		return nil, problem(ctx, h.logger, err)
	}
	return &RotatedSigningKeyOutput{Body: RotatedSigningKey{SigningKey: r.Secret, Credentials: credentialsOut(r.Credentials)}}, nil
}

func (h *EnvironmentHandler) rotateWebhookToken(ctx context.Context, in *EnvironmentPath) (*RotatedWebhookTokenOutput, error) {
	t, err := writableTenant(ctx, h.tenants, in.PartnerCode)
	if err != nil {
		return nil, problem(ctx, h.logger, err)
	}
	r, err := h.tenants.RotateWebhookToken(ctx, t, in.Env)
	if err != nil {
		return nil, problem(ctx, h.logger, err)
	}
	return &RotatedWebhookTokenOutput{Body: RotatedWebhookToken{
		WebhookToken: r.Secret, WebhookURL: h.webhookURL(t, r.Name, r.Secret), Credentials: credentialsOut(r.Credentials),
	}}, nil
}

func (h *EnvironmentHandler) integration(ctx context.Context, in *EnvironmentPath) (*IntegrationURLsOutput, error) {
	t, err := visibleTenant(ctx, h.tenants, in.PartnerCode)
	if err != nil {
		return nil, problem(ctx, h.logger, err)
	}
	e, err := h.tenants.Environment(ctx, t, in.Env)
	if err != nil {
		return nil, problem(ctx, h.logger, err)
	}
	urls := tenant.IntegrationURLs(h.publicURL, t.PartnerCode, e.Name, e.AuthMode)
	out := &IntegrationURLsOutput{Body: IntegrationURLs{Environment: e.Name, AuthMode: e.AuthMode, URLs: make([]IntegrationURL, 0, len(urls))}}
	for _, u := range urls {
		out.Body.URLs = append(out.Body.URLs, IntegrationURL{Key: u.Key, Name: u.Name, Description: u.Description, URL: u.URL})
	}
	return out, nil
}

// webhookURL is the Webhook URL with the real token, for the one response
// that reveals a new token.
func (h *EnvironmentHandler) webhookURL(t tenant.Tenant, env, token string) string {
	return tenant.WebhookURL(h.publicURL, t.PartnerCode, env) + "?token=" + token
}

// credentialFields are set-environment-credentials' properties.
var credentialFields = []string{"apiKey", "apiSecret", "signingKey", "basicAuthUsername", "basicAuthPassword"}

// decodeCredentials reads set-environment-credentials' body strictly
// (unknown properties refused, so a typo does not pass for success) and
// never quotes it in an error: it carries secrets.
func decodeCredentials(raw []byte) (SetCredentialsBody, error) {
	var b SetCredentialsBody
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	err := dec.Decode(&b)
	if err == nil {
		if _, next := dec.Token(); next != io.EOF {
			return b, huma.Error400BadRequest("request body must be one JSON object")
		}
		return b, nil
	}
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &typeErr) && typeErr.Field != "":
		return b, &tenant.FieldError{Field: clip(typeErr.Field, 64), Problem: "must be a string"}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return b, &tenant.FieldError{Field: clip(field, 64), Problem: "is not a credential; expected " + strings.Join(credentialFields, ", ")}
	default:
		// A syntax error's message may quote a byte of the body: say less.
		return b, huma.Error400BadRequest("request body must be a JSON object with string properties " + strings.Join(credentialFields, ", "))
	}
}
