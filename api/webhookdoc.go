package api

import (
	"net/http"
	"reflect"

	"github.com/danielgtaylor/huma/v2"

	"github.com/partnerhub/partnerhub/pay1st"
)

// documentWebhooks describes the Pay1st-facing endpoints in the OpenAPI
// document. They are served by plain handlers (see WebhookHandler), so their
// schemas are written here from the wire contract.
func documentWebhooks(oapi *huma.OpenAPI) {
	reg := oapi.Components.Schemas
	ackRef := reg.Schema(reflect.TypeFor[Ack](), true, "")
	errRef := reg.Schema(reflect.TypeFor[pay1st.ErrorBody](), true, "")
	reg.Map()["PaymentEvent"] = paymentEventSchema()

	pay1stError := func(desc string) *huma.Response {
		return &huma.Response{Description: desc, Content: map[string]*huma.MediaType{"application/json": {Schema: errRef}}}
	}
	oapi.AddOperation(&huma.Operation{
		OperationID: "receive-payment-event", Method: http.MethodPost, Path: "/pay1st/{env}/{partnerCode}/payment-events",
		Tags:    []string{"Pay1st webhooks"},
		Summary: "Receive a Payment Webhook Event",
		Description: "Called by Pay1st, not by clients. Authenticates the caller per the environment's auth mode: signature " +
			"(default) verifies X-SIGNATURE (lowercase hex HMAC-SHA256 of X-TIMESTAMP + raw body with the environment's Signing Key, " +
			"or the replaced key during its rotation grace period; X-TIMESTAMP within the configured window); token compares the " +
			"token query parameter with the environment's webhook token; none (staging only) accepts any caller. An IP allow-list, " +
			"when configured, is checked first against the TCP peer address. Then validates the event, and records it durably " +
			"before answering 2xx. A repeated event is answered 200 with status duplicate and changes nothing. " +
			"Errors use Pay1st's error body, not problem+json.",
		Parameters: []*huma.Param{
			{Name: "env", In: "path", Required: true, Description: "The tenant environment the Webhook URL was issued for.", Schema: &huma.Schema{Type: "string", Enum: []any{"staging", "production"}}},
			{Name: "partnerCode", In: "path", Required: true, Description: "The tenant's Pay1st partnerCode.", Example: "acme-games", Schema: &huma.Schema{Type: "string", Pattern: "^[a-z0-9][a-z0-9_-]{1,63}$"}},
			{Name: pay1st.HeaderSignature, In: "header", Description: "Required in signature mode.", Example: "9f2c4e0b7a1d3c5e8f6a4b2d0c9e7f5a3b1d8c6e4f2a0b9d7c5e3f1a8b6d4c2e", Schema: &huma.Schema{Type: "string", Pattern: "^[0-9a-fA-F]{64}$"}},
			{Name: pay1st.HeaderTimestamp, In: "header", Description: "Required in signature mode.", Example: "2026-03-17T10:15:30Z", Schema: &huma.Schema{Type: "string", Format: "date-time"}},
			{Name: "token", In: "query", Description: "Required in token mode: the environment's webhook token. Never recorded or logged.", Example: "whk_3q7Zp9LmN2xR8vT4", Schema: &huma.Schema{Type: "string"}},
		},
		RequestBody: &huma.RequestBody{Required: true, Content: map[string]*huma.MediaType{
			"application/json": {Schema: &huma.Schema{Ref: "#/components/schemas/PaymentEvent"}},
		}},
		Responses: map[string]*huma.Response{
			"200": {Description: "Recorded (or already recorded).", Content: map[string]*huma.MediaType{"application/json": {Schema: ackRef}}},
			"400": pay1stError("Malformed JSON."),
			"401": pay1stError("Missing or wrong signature or token, or timestamp outside the window."),
			"403": pay1stError("The caller's address is not in the environment's IP allow-list."),
			"404": pay1stError("Unknown partnerCode or environment."),
			"413": pay1stError("Body larger than the configured limit."),
			"422": pay1stError("A field is missing or invalid, or partnerCode/partnerId are not this tenant's."),
			"429": rateLimited(errRef),
			"503": pay1stError("Tenant suspended or partnerhub temporarily unable to record; Pay1st should retry."),
		},
	})
	documentShopWebhooks(oapi, ackRef, pay1stError)
}

// rateLimited is the 429 answer every Pay1st-facing endpoint may give.
func rateLimited(errRef *huma.Schema) *huma.Response {
	return &huma.Response{
		Description: "Over the tenant's request rate (PARTNERHUB_RATE_LIMIT_PER_TENANT, per node); retry after Retry-After seconds.",
		Headers: map[string]*huma.Param{"Retry-After": {Description: "Seconds until a request is admitted again.",
			Schema: &huma.Schema{Type: "integer", Minimum: ptr(1.0)}}},
		Content: map[string]*huma.MediaType{"application/json": {Schema: errRef}},
	}
}

// documentShopWebhooks describes the Summary Webhook, the User Info Webhook
// and the customer return.
func documentShopWebhooks(oapi *huma.OpenAPI, ackRef *huma.Schema, pay1stError func(string) *huma.Response) {
	reg := oapi.Components.Schemas
	reg.Map()["Summary"] = summarySchema()
	reg.Map()["UserInfo"] = userInfoSchema()
	errRef := reg.Schema(reflect.TypeFor[pay1st.ErrorBody](), true, "")
	pathParams := []*huma.Param{
		{Name: "env", In: "path", Required: true, Description: "The tenant environment the Webhook URL was issued for.", Schema: &huma.Schema{Type: "string", Enum: []any{"staging", "production"}}},
		{Name: "partnerCode", In: "path", Required: true, Description: "The tenant's Pay1st partnerCode.", Example: "acme-games", Schema: &huma.Schema{Type: "string", Pattern: "^[a-z0-9][a-z0-9_-]{1,63}$"}},
	}
	tags := []string{"Pay1st webhooks"}

	oapi.AddOperation(&huma.Operation{
		OperationID: "receive-summary", Method: http.MethodPost, Path: "/pay1st/{env}/{partnerCode}/summary",
		Tags: tags, Summary: "Receive a Summary Webhook (Shop payment completed)",
		Description: "Called by Pay1st, not by clients. Verifies X-SIGNATURE: lowercase hex HMAC-SHA256 over the raw body with " +
			"surrounding whitespace trimmed, keyed with the ASCII text base64(username:password) of the environment's Basic Auth " +
			"credentials (401 when none are configured). Then validates the body, resolves productBundleId against the bundles' " +
			"Pay1st ids, and in one transaction records the delivery, the Shop payment (status SUCCESSFUL, the player), its item " +
			"and its fulfilment, answering 200 only after commit. Fulfilment is queued once per reference: a summary for a " +
			"reference already recorded is answered 200 with status duplicate and changes nothing. Only SUCCESSFUL summaries " +
			"are credited. Every call, accepted or not, is recorded. Errors use Pay1st's error body.",
		Parameters: append(pathParams[:2:2],
			&huma.Param{Name: pay1st.HeaderSignature, In: "header", Required: true, Description: "Lowercase hex HMAC-SHA256 of the trimmed body, keyed with base64(username:password) of the environment's Basic Auth credentials.", Example: "5d41402abc4b2a76b9719d911017c5925d41402abc4b2a76b9719d911017c592", Schema: &huma.Schema{Type: "string", Pattern: "^[0-9a-fA-F]{64}$"}}),
		RequestBody: &huma.RequestBody{Required: true, Content: map[string]*huma.MediaType{
			"application/json": {Schema: &huma.Schema{Ref: "#/components/schemas/Summary"}},
		}},
		Responses: map[string]*huma.Response{
			"200": {Description: "Recorded and fulfilment queued (or already recorded).", Content: map[string]*huma.MediaType{"application/json": {Schema: ackRef}}},
			"400": pay1stError("Malformed JSON."),
			"401": pay1stError("Missing or wrong X-SIGNATURE, or no Basic Auth credentials configured."),
			"404": pay1stError("Unknown partnerCode or environment."),
			"413": pay1stError("Body larger than the configured limit."),
			"422": pay1stError("A field is missing or invalid (INVALID_FIELD), productBundleId is no bundle's (UNKNOWN_BUNDLE), " +
				"status is not SUCCESSFUL (NOT_SUCCESSFUL), or the reference is a gateway payment's (REFERENCE_TAKEN)."),
			"429": rateLimited(errRef),
			"503": pay1stError("Tenant suspended or partnerhub temporarily unable to record; Pay1st should retry."),
		},
	})

	query := func(name, desc string, example any, s *huma.Schema) *huma.Param {
		return &huma.Param{Name: name, In: "query", Description: desc, Example: example, Schema: s}
	}
	oapi.AddOperation(&huma.Operation{
		OperationID: "lookup-user", Method: http.MethodGet, Path: "/pay1st/{env}/{partnerCode}/user-info",
		Tags: tags, Summary: "Answer the User Info Webhook (validate a player)",
		Description: "Called by Pay1st before a purchase. When the environment has Basic Auth credentials, HTTP Basic " +
			"authentication with them is required. Every parameter is validated; unknown parameters are ignored, a known one " +
			"given twice is refused. The environment's active plugin answers (LookupUser) within PARTNERHUB_USER_INFO_TIMEOUT " +
			"(default 3s). A missing plugin is 503, a failing one 502 and a late one 504, all with Pay1st's error body. " +
			"Every call is recorded, with its query.",
		Parameters: append(pathParams[:2:2],
			query("playerId", "The player to validate (1-128 bytes, no control characters).", "player-1029", &huma.Schema{Type: "string", MinLength: ptr(1), MaxLength: ptr(128)}),
			query("productBundleId", "Pay1st's bundle id.", int64(48213), &huma.Schema{Type: "integer", Format: "int64", Minimum: ptr(1.0)}),
			query("productBundleExternalId", "The partner's SKU.", "gems-500", &huma.Schema{Type: "string", Pattern: "^[A-Za-z0-9._-]{1,64}$"}),
			query("externalReference", "The partner's reference (at most 256 bytes).", "order-8812", &huma.Schema{Type: "string", MaxLength: ptr(256)}),
			query("amount", "Exact decimal amount in major units.", "4.99", &huma.Schema{Type: "string", Pattern: `^(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$`}),
			query("currencyCode", "ISO 4217.", "USD", &huma.Schema{Type: "string", Pattern: "^[A-Z]{3}$"}),
			query("countryCode", "ISO 3166-1 alpha-2.", "NG", &huma.Schema{Type: "string", Pattern: "^[A-Z]{2}$"}),
			query("quantity", "Number of bundles.", 1, &huma.Schema{Type: "integer", Minimum: ptr(1.0), Maximum: ptr(1e6)}),
		),
		Responses: map[string]*huma.Response{
			"200": {Description: "The player is known.", Content: map[string]*huma.MediaType{
				"application/json": {Schema: &huma.Schema{Ref: "#/components/schemas/UserInfo"}}}},
			"400": pay1stError("The player is not known (the plugin's errorCode, USER_NOT_FOUND by default) or a parameter is invalid (INVALID_FIELD)."),
			"401": pay1stError("Basic credentials missing or wrong."),
			"404": pay1stError("Unknown partnerCode or environment."),
			"429": rateLimited(errRef),
			"502": pay1stError("The plugin failed (PLUGIN_FAILED)."),
			"503": pay1stError("No active plugin, tenant suspended, or partnerhub unable to record the call."),
			"504": pay1stError("The plugin did not answer within the deadline (PLUGIN_FAILED)."),
		},
	})

	oapi.AddOperation(&huma.Operation{
		OperationID: "customer-return", Method: http.MethodGet, Path: "/pay1st/{env}/{partnerCode}/return/{outcome}",
		Tags: tags, Summary: "End a customer's redirect from Pay1st",
		Description: "Opened by the customer's browser after checkout. Redirects (303) to the environment's callback URL " +
			"for the outcome with reference=<payment reference> appended to its query, or, when no callback URL is " +
			"configured, shows a small self-contained status page. Every call is recorded.",
		Parameters: append(pathParams[:2:2],
			&huma.Param{Name: "outcome", In: "path", Required: true, Description: "How checkout ended, as chosen by the return URL Pay1st was given.", Schema: &huma.Schema{Type: "string", Enum: []any{"success", "failure", "pending", "cancel"}}},
			query("reference", "The payment's Pay1st reference.", "C-1795274958-P", &huma.Schema{Type: "string", Pattern: "^[A-Za-z0-9_.:~-]{1,128}$"}),
		),
		Responses: map[string]*huma.Response{
			"200": {Description: "The hosted status page.", Content: map[string]*huma.MediaType{"text/html": {Schema: &huma.Schema{Type: "string"}}}},
			"303": {Description: "Redirect to the configured callback URL.", Headers: map[string]*huma.Param{
				"Location": {Description: "The callback URL with the reference appended.", Schema: &huma.Schema{Type: "string", Format: "uri"}}}},
			"400": pay1stError("Invalid reference."),
			"404": pay1stError("Unknown partnerCode, environment or outcome."),
			"429": rateLimited(errRef),
			"503": pay1stError("partnerhub temporarily unable to record the call."),
		},
	})
}

// summarySchema is pay1st-protocol.md §4 as JSON Schema.
func summarySchema() *huma.Schema {
	zero, one := 0.0, 1.0
	str := func(desc string, maxLen int) *huma.Schema {
		return &huma.Schema{Type: "string", MaxLength: ptr(maxLen), Description: desc}
	}
	return &huma.Schema{
		Type:        "object",
		Description: "A Pay1st Summary Webhook body. Unknown fields are accepted and kept in the recorded delivery.",
		Properties: map[string]*huma.Schema{
			"reference":       str("Pay1st's payment reference: fulfilment is queued once per reference.", pay1st.MaxStringBytes),
			"playerId":        {Type: "string", MinLength: ptr(1), MaxLength: ptr(pay1st.MaxPlayerIDBytes), Description: "The player to credit."},
			"productBundleId": {Type: "integer", Format: "int64", Minimum: &one, Description: "Pay1st's id of the bundle bought (the bundle's pay1stProductBundleId)."},
			"amount":          {Type: "number", Minimum: &zero, Description: "Amount paid in major units, read as an exact decimal."},
			"currency":        {Type: "string", Pattern: "^[A-Z]{3}$", Description: "ISO 4217 (the protocol names it currency)."},
			"tokensPurchased": {Type: "number", ExclusiveMinimum: &zero, Description: "Digital currency to credit, exact decimal."},
			"digitalCurrency": {Type: "object", Required: []string{"name", "code"}, Description: "The in-game currency credited.",
				Properties: map[string]*huma.Schema{
					"name": {Type: "string", MinLength: ptr(1), MaxLength: ptr(pay1st.MaxDigitalCurrencyNameBytes), Description: "Its display name."},
					"code": {Type: "string", Pattern: "^[A-Za-z0-9._-]{1,32}$", Description: "Its code in the game."},
				}},
			"status":            {Type: "string", Description: "A Pay1st status; only SUCCESSFUL is credited."},
			"externalReference": str("The partner's reference, optional.", pay1st.MaxStringBytes),
			"paymentMethod":     str("Payment method, optional.", pay1st.MaxStringBytes),
		},
		Required: []string{"reference", "playerId", "productBundleId", "amount", "currency", "tokensPurchased", "digitalCurrency", "status"},
		Examples: []any{map[string]any{
			"reference": "S-1795274958-P", "playerId": "player-1029", "productBundleId": 48213, "amount": 4.99, "currency": "USD",
			"tokensPurchased": 500, "digitalCurrency": map[string]any{"name": "Gems", "code": "GEM"}, "status": "SUCCESSFUL",
			"externalReference": "order-8812", "paymentMethod": "CARD",
		}},
	}
}

// userInfoSchema is the User Info Webhook's success body (§3).
func userInfoSchema() *huma.Schema {
	return &huma.Schema{
		Type: "object", Description: "A known player, as the game's plugin confirms it.",
		Properties: map[string]*huma.Schema{
			"userId":            {Type: "string", Description: "The game's id of the player."},
			"externalReference": {Type: "string", Description: "The partner's reference for this purchase, if any."},
			"amount":            {Type: "number", Description: "Exact decimal amount; absent when neither the plugin nor the request gave one."},
			"currencyCode":      {Type: "string", Description: "ISO 4217."},
		},
		Required: []string{"userId", "externalReference"},
		Examples: []any{map[string]any{"userId": "player-1029", "externalReference": "order-8812", "amount": 4.99, "currencyCode": "USD"}},
	}
}

// paymentEventSchema is pay1st-protocol.md §1 as JSON Schema. Amounts are
// JSON numbers on the wire; partnerhub reads them as exact decimals.
func paymentEventSchema() *huma.Schema {
	str := func(desc string) *huma.Schema {
		return &huma.Schema{Type: "string", MaxLength: ptr(pay1st.MaxStringBytes), Description: desc}
	}
	integer := func(desc string, min float64) *huma.Schema {
		return &huma.Schema{Type: "integer", Format: "int64", Minimum: &min, Description: desc}
	}
	statuses := make([]any, 0, len(pay1st.Statuses()))
	for _, s := range pay1st.Statuses() {
		statuses = append(statuses, string(s))
	}
	zero, hundred := 0.0, 100.0
	props := map[string]*huma.Schema{
		"partnerId":         integer("The partner's numeric id; must be the tenant's.", 1),
		"partnerCode":       str("The partner's code; must be the tenant's."),
		"partnerReference":  str("The partner's own order reference."),
		"reference":         str("Pay1st's payment reference: the payment's identity."),
		"orderAmount":       {Type: "number", Minimum: &zero, Description: "Amount in major units, read as an exact decimal (at most 15 integer and 8 fraction digits)."},
		"currencyCode":      {Type: "string", Pattern: "^[A-Z]{3}$", Description: "ISO 4217."},
		"countryCode":       {Type: "string", Pattern: "^[A-Z]{2}$", Description: "ISO 3166-1 alpha-2."},
		"source":            str("Originating source."),
		"platform":          str("Device platform, WEB."),
		"ipAddress":         str("Customer IP address."),
		"createdDate":       {Type: "string", Format: "date-time", Description: "ISO-8601."},
		"updatedDate":       {Type: "string", Format: "date-time", Description: "ISO-8601; orders the events of one payment."},
		"status":            {Type: "string", Enum: statuses, Description: "The payment's status as of updatedDate; SUCCESSFUL queues fulfilment."},
		"message":           str("PSP response message."),
		"statusCode":        integer("Status code.", 0),
		"customerId":        integer("Customer identifier.", 0),
		"paymentMethod":     str("Payment method."),
		"taxPercentage":     {Type: "number", Minimum: &zero, Maximum: &hundred, Description: "Tax share in percent, exact decimal."},
		"partnerWebhookUrl": str("The URL the event was sent to."),
	}
	required := []string{"partnerId", "partnerCode", "partnerReference", "reference", "orderAmount", "currencyCode",
		"countryCode", "source", "platform", "ipAddress", "createdDate", "updatedDate", "status", "message",
		"statusCode", "customerId", "paymentMethod", "taxPercentage", "partnerWebhookUrl"}
	return &huma.Schema{
		Type: "object", Description: "A Pay1st Payment Webhook Event. Every field is mandatory; unknown fields are accepted and kept.",
		Properties: props, Required: required,
		Examples: []any{map[string]any{
			"partnerId": 1042, "partnerCode": "acme-games", "partnerReference": "order-8812", "reference": "C-1795274958-P",
			"orderAmount": 4.99, "currencyCode": "USD", "countryCode": "NG", "source": "GATEWAY", "platform": "WEB",
			"ipAddress": "203.0.113.7", "createdDate": "2026-03-17T10:14:02Z", "updatedDate": "2026-03-17T10:15:30Z",
			"status": "SUCCESSFUL", "message": "Approved", "statusCode": 0, "customerId": 77, "paymentMethod": "CARD",
			"taxPercentage": 7.5, "partnerWebhookUrl": "https://hub.example.com/pay1st/production/acme-games/payment-events",
		}},
	}
}

func ptr[T any](v T) *T { return &v }
