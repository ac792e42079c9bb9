package tenant

import (
	"context"
	"errors"
	"fmt"
)

// BundleByPay1stID returns the bundle of a tenant environment that Pay1st
// knows as productBundleId (without prices): the Summary Webhook names the
// bundle bought by that id alone. ErrNotFound when no bundle carries it.
func (s *Service) BundleByPay1stID(ctx context.Context, tenantID int64, env string, pay1stID int64) (Bundle, error) {
	if pay1stID <= 0 || !ValidEnv(env) {
		return Bundle{}, ErrNotFound
	}
	b, err := scanBundle(s.pool.QueryRow(ctx, `SELECT `+bundleColumns+` FROM bundles
		WHERE tenant_id = $1 AND environment = $2 AND pay1st_bundle_id = $3`, tenantID, env, pay1stID))
	if err != nil && !errors.Is(err, ErrNotFound) {
		return b, fmt.Errorf("get bundle by Pay1st id: %w", err)
	}
	return b, err
}
