package plugins

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/partnerhub/partnerhub/internal/db"
)

// The SQL of plugins, plugin_blobs, plugin_settings and plugin_activations.

func hexSHA256(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

const pluginColumns = `p.id, p.tenant_id, p.name, p.version, p.sha256, b.size, p.os, p.arch, p.created_at,
	ARRAY(SELECT e.name FROM environments e WHERE e.tenant_id = p.tenant_id AND e.active_plugin_id = p.id ORDER BY e.name DESC)`

const pluginFrom = ` FROM plugins p JOIN plugin_blobs b USING (sha256) `

func scanPlugin(row pgx.Row) (Plugin, error) {
	var p Plugin
	err := row.Scan(&p.ID, &p.TenantID, &p.Name, &p.Version, &p.SHA256, &p.Size, &p.OS, &p.Arch, &p.CreatedAt, &p.ActiveIn)
	if errors.Is(err, pgx.ErrNoRows) {
		return p, ErrNotFound
	}
	if err != nil {
		return p, fmt.Errorf("scan plugin: %w", err)
	}
	return p, nil
}

func pluginByID(ctx context.Context, q db.Querier, tenantID, id int64) (Plugin, error) {
	return scanPlugin(q.QueryRow(ctx, `SELECT `+pluginColumns+pluginFrom+`WHERE p.tenant_id = $1 AND p.id = $2`, tenantID, id))
}

func pluginByNameVersion(ctx context.Context, q db.Querier, tenantID int64, name, version string) (Plugin, error) {
	return scanPlugin(q.QueryRow(ctx, `SELECT `+pluginColumns+pluginFrom+`WHERE p.tenant_id = $1 AND p.name = $2 AND p.version = $3`,
		tenantID, name, version))
}

func listPlugins(ctx context.Context, q db.Querier, tenantID, after int64, limit int) ([]Plugin, error) {
	rows, err := q.Query(ctx, `SELECT `+pluginColumns+pluginFrom+`WHERE p.tenant_id = $1 AND p.id > $2 ORDER BY p.id LIMIT $3`,
		tenantID, after, limit)
	if err != nil {
		return nil, fmt.Errorf("list plugins: %w", err)
	}
	defer rows.Close()
	var out []Plugin
	for rows.Next() {
		p, err := scanPlugin(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list plugins: %w", err)
	}
	return out, nil
}

func blob(ctx context.Context, q db.Querier, sha string) ([]byte, error) {
	var data []byte
	err := q.QueryRow(ctx, `SELECT data FROM plugin_blobs WHERE sha256 = $1`, sha).Scan(&data)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("fetch plugin binary: %w", err)
	}
	return data, nil
}

func blobExists(ctx context.Context, q db.Querier, sha string) (bool, error) {
	var ok bool
	if err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM plugin_blobs WHERE sha256 = $1)`, sha).Scan(&ok); err != nil {
		return false, fmt.Errorf("look up plugin binary: %w", err)
	}
	return ok, nil
}

func insertBlob(ctx context.Context, q db.Querier, sha string, data []byte) error {
	if _, err := q.Exec(ctx, `INSERT INTO plugin_blobs (sha256, size, data) VALUES ($1, $2, $3) ON CONFLICT (sha256) DO NOTHING`,
		sha, len(data), data); err != nil {
		return fmt.Errorf("store plugin binary: %w", err)
	}
	return nil
}

// insertPlugin adds the plugin row unless the tenant has that name and
// version: then it is returned if its bytes are the same (created false),
// else ErrConflict.
func insertPlugin(ctx context.Context, q db.Querier, p UploadParams, sha string) (Plugin, bool, error) {
	tag, err := q.Exec(ctx, `INSERT INTO plugins (tenant_id, name, version, sha256, os, arch) VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (tenant_id, name, version) DO NOTHING`, p.TenantID, p.Name, p.Version, sha, p.OS, p.Arch)
	if err != nil {
		return Plugin{}, false, fmt.Errorf("store plugin: %w", err)
	}
	pl, err := pluginByNameVersion(ctx, q, p.TenantID, p.Name, p.Version)
	if err != nil {
		return pl, false, err
	}
	if pl.SHA256 != sha {
		return Plugin{}, false, fmt.Errorf("%w: %s %s", ErrConflict, p.Name, p.Version)
	}
	return pl, tag.RowsAffected() == 1, nil
}

// lockPlugin locks a tenant's plugin row against activation (the
// environments foreign key takes a key-share lock) until tx ends.
func lockPlugin(ctx context.Context, tx pgx.Tx, tenantID, id int64) (string, error) {
	var sha string
	err := tx.QueryRow(ctx, `SELECT sha256 FROM plugins WHERE tenant_id = $1 AND id = $2 FOR UPDATE`, tenantID, id).Scan(&sha)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("lock plugin: %w", err)
	}
	return sha, nil
}

func activeEnvironments(ctx context.Context, q db.Querier, tenantID, id int64) ([]string, error) {
	var envs []string
	if err := q.QueryRow(ctx, `SELECT ARRAY(SELECT name FROM environments WHERE tenant_id = $1 AND active_plugin_id = $2 ORDER BY name DESC)`,
		tenantID, id).Scan(&envs); err != nil {
		return nil, fmt.Errorf("plugin in use: %w", err)
	}
	return envs, nil
}

// deletePlugin removes the plugin row, and its blob when no plugin of any
// tenant still uses those bytes.
func deletePlugin(ctx context.Context, tx pgx.Tx, tenantID, id int64, sha string) error {
	if _, err := tx.Exec(ctx, `DELETE FROM plugins WHERE tenant_id = $1 AND id = $2`, tenantID, id); err != nil {
		return fmt.Errorf("delete plugin: %w", err)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM plugin_blobs WHERE sha256 = $1 AND NOT EXISTS (SELECT 1 FROM plugins WHERE sha256 = $1)`, sha); err != nil {
		return fmt.Errorf("delete plugin binary: %w", err)
	}
	return nil
}

// settingsRow is an environment's stored settings: sealed values, names in clear.
type settingsRow struct {
	sealed    []byte
	names     []string
	updatedAt time.Time
}

func loadSettings(ctx context.Context, q db.Querier, tenantID int64, env string) (settingsRow, error) {
	var s settingsRow
	err := q.QueryRow(ctx, `SELECT sealed, names, updated_at FROM plugin_settings WHERE tenant_id = $1 AND environment = $2`,
		tenantID, env).Scan(&s.sealed, &s.names, &s.updatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return settingsRow{}, nil
	}
	if err != nil {
		return s, fmt.Errorf("load plugin settings: %w", err)
	}
	return s, nil
}

func saveSettings(ctx context.Context, q db.Querier, tenantID int64, env string, sealed []byte, names []string) (time.Time, error) {
	var at time.Time
	err := q.QueryRow(ctx, `INSERT INTO plugin_settings (tenant_id, environment, sealed, names) VALUES ($1, $2, $3, $4)
		ON CONFLICT (tenant_id, environment) DO UPDATE SET sealed = EXCLUDED.sealed, names = EXCLUDED.names, updated_at = now()
		RETURNING updated_at`, tenantID, env, sealed, names).Scan(&at)
	if err != nil {
		return at, fmt.Errorf("store plugin settings: %w", err)
	}
	return at, nil
}

// activeKeyRow is what resolving an environment's plugin needs, in one query.
func activeKeyRow(ctx context.Context, q db.Querier, tenantID, pluginID int64, env string) (sha string, sealed []byte, err error) {
	err = q.QueryRow(ctx, `SELECT p.sha256, s.sealed FROM plugins p
		LEFT JOIN plugin_settings s ON s.tenant_id = p.tenant_id AND s.environment = $3
		WHERE p.tenant_id = $1 AND p.id = $2`, tenantID, pluginID, env).Scan(&sha, &sealed)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil, ErrNotFound
	}
	if err != nil {
		return "", nil, fmt.Errorf("resolve active plugin: %w", err)
	}
	return sha, sealed, nil
}

func insertActivation(ctx context.Context, q db.Querier, tenantID int64, env string, pluginID, previous int64, d Description) (time.Time, error) {
	var prev *int64
	if previous != 0 {
		prev = &previous
	}
	var at time.Time
	err := q.QueryRow(ctx, `INSERT INTO plugin_activations
		(tenant_id, environment, plugin_id, previous_plugin_id, described_name, described_version, protocol_version, capabilities)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING activated_at`,
		tenantID, env, pluginID, prev, d.Name, d.Version, d.ProtocolVersion, d.Capabilities).Scan(&at)
	if err != nil {
		return at, fmt.Errorf("record activation: %w", err)
	}
	return at, nil
}

// lastActivation is the latest recorded activation of a plugin, preferring
// env's (promotion copies a plugin to production without starting it there).
func lastActivation(ctx context.Context, q db.Querier, tenantID, pluginID int64, env string) (*Activation, error) {
	var a Activation
	var prev *int64
	err := q.QueryRow(ctx, `SELECT environment, previous_plugin_id, described_name, described_version, protocol_version, capabilities, activated_at
		FROM plugin_activations WHERE tenant_id = $1 AND plugin_id = $2
		ORDER BY (environment = $3) DESC, id DESC LIMIT 1`, tenantID, pluginID, env).
		Scan(&a.Environment, &prev, &a.Description.Name, &a.Description.Version, &a.Description.ProtocolVersion,
			&a.Description.Capabilities, &a.ActivatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load activation: %w", err)
	}
	if prev != nil {
		a.PreviousPluginID = *prev
	}
	return &a, nil
}
