// Package tenant owns the studios partnerhub serves: tenants keyed by their
// Pay1st partnerCode, their staging and production environments with sealed
// credentials, and the API keys that manage them.
package tenant

import (
	"errors"
	"fmt"
	"regexp"
	"time"
)

// Errors the tenant package returns; api maps them to HTTP problems.
var (
	ErrNotFound     = errors.New("tenant: not found")
	ErrConflict     = errors.New("tenant: already exists")
	ErrUnauthorized = errors.New("tenant: invalid API key")
)

// FieldError reports an invalid input field by its API name.
type FieldError struct {
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
	ID          int64
	PartnerCode string
	PartnerID   int64
	Name        string
	Status      string
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// Env is what the Pay1st-facing endpoints need to know about one tenant
// environment: identity, status, auth mode and opened credentials.
type Env struct {
	TenantID       int64
	PartnerCode    string
	PartnerID      int64
	TenantStatus   string
	Name           string
	AuthMode       string
	SigningKey     string // opened; empty when not configured
	ActivePluginID int64  // 0 when none
}

// CreateParams are the inputs of a new tenant.
type CreateParams struct {
	PartnerCode string
	PartnerID   int64
	Name        string
}

// Validate checks the params before they reach the database.
func (p CreateParams) Validate() error {
	switch {
	case !ValidPartnerCode(p.PartnerCode):
		return &FieldError{Field: "partnerCode", Problem: "must match " + PartnerCodePattern}
	case p.PartnerID <= 0:
		return &FieldError{Field: "partnerId", Problem: "must be a positive integer"}
	case p.Name == "" || len(p.Name) > 200:
		return &FieldError{Field: "name", Problem: "must be 1 to 200 characters"}
	}
	return nil
}

// Created is a new tenant with the secrets shown to its creator once.
type Created struct {
	Tenant
	StagingSigningKey string
}
