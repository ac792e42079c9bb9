package pay1st

// ErrorBody is the error body partners return to Pay1st with a 4xx status
// (protocol §6), and the one partnerhub's Pay1st-facing endpoints use.
type ErrorBody struct {
	ErrorMessage string `json:"errorMessage" doc:"What went wrong, for a person."`
	ErrorCode    string `json:"errorCode" doc:"A stable code for the error (INVALID_FIELD, UNAUTHORIZED, ...)."`
	SessionID    string `json:"sessionId" doc:"Identifies the delivery in partnerhub's records and logs."`
}

// Error codes partnerhub puts in ErrorBody.ErrorCode. They are part of the
// contract with Pay1st and tenants' support staff: never rename one.
const (
	CodeNotFound        = "NOT_FOUND"         // unknown tenant, environment or resource
	CodeUnauthorized    = "UNAUTHORIZED"      // bad or missing signature, token or credentials
	CodeForbidden       = "FORBIDDEN"         // the caller's address is not in the IP allow-list
	CodeMalformed       = "MALFORMED_REQUEST" // the body is not the JSON object expected
	CodeInvalidField    = "INVALID_FIELD"     // a field is missing or invalid
	CodePayloadTooLarge = "PAYLOAD_TOO_LARGE" // the body exceeds the size limit
	CodeTenantMismatch  = "TENANT_MISMATCH"   // partnerId/partnerCode differ from the URL's tenant
	CodeUnavailable     = "UNAVAILABLE"       // temporarily unable to record the call; retry
	CodeInternal        = "INTERNAL_ERROR"    // a bug on our side
	CodeRateLimited     = "RATE_LIMITED"      // over the tenant's request rate; see Retry-After
	CodeUserNotFound    = "USER_NOT_FOUND"    // User Info Webhook: the game does not know the player
	CodeUnknownBundle   = "UNKNOWN_BUNDLE"    // Summary Webhook: no bundle has this productBundleId
	CodeNotSuccessful   = "NOT_SUCCESSFUL"    // Summary Webhook: only SUCCESSFUL payments are credited
	CodeReferenceTaken  = "REFERENCE_TAKEN"   // Summary Webhook: the reference is a gateway payment's
	CodePluginFailed    = "PLUGIN_FAILED"     // the game's plugin failed or timed out
)
