// Package tenant owns the studios partnerhub serves: tenants keyed by their
// Pay1st partnerCode, their staging and production environments with sealed
// credentials, and the API keys that manage them.
package tenant

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"
)

// Errors the tenant package returns; api maps them to HTTP problems.
var (
	ErrNotFound     = errors.New("tenant: not found")
	ErrConflict     = errors.New("tenant: already exists")
	ErrUnauthorized = errors.New("tenant: invalid API key")
)

// FieldError reports an invalid input field by its API name. In says where
// the field is ("body" when empty; "query", "path").
type FieldError struct {
	In      string
	Field   string
	Problem string
}

func (e *FieldError) Error() string { return fmt.Sprintf("%s: %s", e.Field, e.Problem) }

// Environment names.
const (
	Staging    = "staging"
	Production = "production"
)

// ValidEnv reports whether name is an environment partnerhub knows.
func ValidEnv(name string) bool { return name == Staging || name == Production }

// Status of a tenant.
const (
	StatusActive    = "active"
	StatusSuspended = "suspended"
)

// Auth modes for Payment Webhook Events (pay1st-protocol.md §1).
const (
	AuthSignature = "signature"
	AuthToken     = "token"
	AuthNone      = "none"
)

// PartnerCodePattern is the shape of a tenant's Pay1st partnerCode.
const PartnerCodePattern = `^[a-z0-9][a-z0-9_-]{1,63}$`

var partnerCodeRE = regexp.MustCompile(PartnerCodePattern)

// ValidPartnerCode reports whether code has the partnerCode shape. Checking
// it before any lookup keeps path tricks ("../x") out of queries and logs.
func ValidPartnerCode(code string) bool { return partnerCodeRE.MatchString(code) }

// Tenant is one studio.
type Tenant struct {
	ID           int64
	PartnerCode  string
	PartnerID    int64
	Name         string
	ContactName  string
	ContactEmail string
	Status       string
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// Limits of a tenant's fields (characters; the schema checks them too).
const (
	MaxTenantNameLen   = 200
	MaxContactNameLen  = 200
	MaxContactEmailLen = 254
)

// CreateParams are the inputs of a new tenant.
type CreateParams struct {
	PartnerCode  string
	PartnerID    int64
	Name         string
	ContactName  string // optional
	ContactEmail string // optional
}

// Validate checks the params before they reach the database.
func (p CreateParams) Validate() error {
	switch {
	case !ValidPartnerCode(p.PartnerCode):
		return &FieldError{Field: "partnerCode", Problem: "must match " + PartnerCodePattern}
	case p.PartnerID <= 0:
		return &FieldError{Field: "partnerId", Problem: "must be a positive integer"}
	}
	return validateProfile(p.Name, p.ContactName, p.ContactEmail)
}

// validateProfile checks the fields a tenant can change about itself.
func validateProfile(name, contactName, contactEmail string) error {
	switch {
	case strings.TrimSpace(name) == "" || utf8.RuneCountInString(name) > MaxTenantNameLen || !utf8.ValidString(name):
		return &FieldError{Field: "name", Problem: fmt.Sprintf("must be 1 to %d characters, not blank", MaxTenantNameLen)}
	case utf8.RuneCountInString(contactName) > MaxContactNameLen || !utf8.ValidString(contactName):
		return &FieldError{Field: "contactName", Problem: fmt.Sprintf("must be at most %d characters", MaxContactNameLen)}
	case contactEmail != "" && (len(contactEmail) > MaxContactEmailLen || !emailRE.MatchString(contactEmail)):
		return &FieldError{Field: "contactEmail", Problem: fmt.Sprintf("must be an email address (name@example.com) of at most %d characters, or empty", MaxContactEmailLen)}
	}
	return nil
}

// emailRE checks an address loosely: something@domain.tld, no spaces. Whether
// it receives mail is the studio's business.
var emailRE = regexp.MustCompile(`^[^@\s<>]+@[^@\s<>]+\.[^@\s<>.]+$`)

// UpdateParams change a tenant's profile; nil fields are left as they are.
type UpdateParams struct {
	Name         *string
	ContactName  *string
	ContactEmail *string
}

// TenantFilter selects a page of tenants in id order; Status "" means any.
type TenantFilter struct {
	Status string
	Limit  int
	Cursor string
}

// TenantPage is one page of tenants; NextCursor is "" on the last.
type TenantPage struct {
	Tenants    []Tenant
	NextCursor string
}

// Created is a new tenant with the secrets shown to its creator once.
type Created struct {
	Tenant
	StagingSigningKey string
}
