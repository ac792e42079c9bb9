package plugins

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/partnerhub/partnerhub/internal/db"
)

// Syntax and lists of an upload's parameters.
var (
	// NameSyntax: lowercase, starts with a letter or digit, at most 64 bytes.
	NameSyntax = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)
	// VersionSyntax: semantic-version-like (1.2.0, 2.0.0-rc.1+build.5), at most 64 bytes.
	VersionSyntax = regexp.MustCompile(`^[0-9A-Za-z][0-9A-Za-z.+_-]{0,63}$`)
	// KnownOS and KnownArch are the GOOS and GOARCH values an upload may name.
	KnownOS   = []string{"linux", "darwin", "freebsd", "netbsd", "openbsd", "windows"}
	KnownArch = []string{"amd64", "arm64", "386", "arm", "riscv64", "ppc64le", "s390x", "loong64", "mips64le"}
)

// UploadParams describe an executable being uploaded.
type UploadParams struct {
	TenantID int64
	Name     string
	Version  string
	OS       string
	Arch     string
}

// Uploaded is the result of an upload: the plugin, and whether this upload
// created it (false: the same bytes were already there under that name and
// version).
type Uploaded struct {
	Plugin
	Created bool
}

func (p UploadParams) validate() error {
	switch {
	case p.Name == "":
		return &FieldError{In: "query", Field: "name", Problem: "is required"}
	case !NameSyntax.MatchString(p.Name):
		return &FieldError{In: "query", Field: "name", Problem: "must be 1-64 of a-z 0-9 . _ -, starting with a letter or digit"}
	case p.Version == "":
		return &FieldError{In: "query", Field: "version", Problem: "is required"}
	case !VersionSyntax.MatchString(p.Version):
		return &FieldError{In: "query", Field: "version", Problem: "must be 1-64 of A-Z a-z 0-9 . + _ -, starting with a letter or digit (like 1.2.0)"}
	case !slices.Contains(KnownOS, p.OS):
		return &FieldError{In: "query", Field: "os", Problem: "must be one of the known GOOS values (linux, darwin, windows, ...)"}
	case !slices.Contains(KnownArch, p.Arch):
		return &FieldError{In: "query", Field: "arch", Problem: "must be one of the known GOARCH values (amd64, arm64, ...)"}
	}
	return nil
}

// Upload stores the executable read from body for a tenant. body is read
// once, with a hard limit of MaxSize bytes, hashed while it is spooled to a
// temporary file (never held whole in memory while it arrives), then stored
// content-addressed by sha256 unless those bytes are there already. The same
// bytes under the same name and version again return the existing plugin
// (Created false); other bytes under them are ErrConflict. Over the limit is
// a *TooLargeError and nothing is stored.
func (r *Registry) Upload(ctx context.Context, p UploadParams, body io.Reader) (Uploaded, error) {
	if err := p.validate(); err != nil {
		return Uploaded{}, err
	}
	if err := os.MkdirAll(r.tmpDir, 0o700); err != nil {
		return Uploaded{}, fmt.Errorf("spool upload: %w", err)
	}
	f, err := os.CreateTemp(r.tmpDir, "plugin-upload-*")
	if err != nil {
		return Uploaded{}, fmt.Errorf("spool upload: %w", err)
	}
	defer func() {
		_ = f.Close()
		_ = os.Remove(f.Name())
	}()
	h := sha256.New()
	var head headWriter
	n, err := io.Copy(io.MultiWriter(f, h, &head), io.LimitReader(body, r.maxSize+1))
	if err != nil {
		return Uploaded{}, fmt.Errorf("read upload: %w", err)
	}
	if n > r.maxSize {
		return Uploaded{}, &TooLargeError{Limit: r.maxSize}
	}
	if n == 0 {
		return Uploaded{}, &FieldError{In: "body", Field: "body", Problem: "is empty: send the executable's bytes"}
	}
	if !executableFor(p.OS, head.b) {
		return Uploaded{}, &FieldError{In: "body", Field: "body", Problem: "is not an executable for " + p.OS +
			" (expected " + formatFor(p.OS) + " or a #! script)"}
	}
	sum := hex.EncodeToString(h.Sum(nil))

	// Known name and version: answer without touching the bytes.
	switch pl, err := pluginByNameVersion(ctx, r.pool, p.TenantID, p.Name, p.Version); {
	case err == nil && pl.SHA256 != sum:
		return Uploaded{}, fmt.Errorf("%w: %s %s", ErrConflict, p.Name, p.Version)
	case err == nil:
		return Uploaded{Plugin: pl}, nil
	case !errors.Is(err, ErrNotFound):
		return Uploaded{}, err
	}
	have, err := blobExists(ctx, r.pool, sum)
	if err != nil {
		return Uploaded{}, err
	}
	var data []byte
	if !have {
		var release func()
		data, release, err = r.readSpool(ctx, f, n)
		if err != nil {
			return Uploaded{}, err
		}
		defer release()
		if hexSHA256(data) != sum {
			return Uploaded{}, fmt.Errorf("upload spool changed while stored")
		}
	}
	var out Uploaded
	err = db.InTx(ctx, r.pool, func(tx pgx.Tx) error {
		if data != nil {
			if err := insertBlob(ctx, tx, sum, data); err != nil {
				return err
			}
		}
		pl, created, err := insertPlugin(ctx, tx, p, sum)
		if err != nil {
			return err
		}
		out = Uploaded{Plugin: pl, Created: created}
		if !created || r.audit == nil {
			return nil
		}
		return r.audit.AuditTx(ctx, tx, "plugin.upload", p.TenantID, fmt.Sprintf("plugin:%d", pl.ID),
			map[string]any{"name": pl.Name, "version": pl.Version, "sha256": pl.SHA256, "size": pl.Size, "os": pl.OS, "arch": pl.Arch})
	})
	if err != nil {
		return Uploaded{}, err
	}
	if out.Created {
		r.log.InfoContext(ctx, "plugin uploaded", "tenant_id", p.TenantID, "plugin_id", out.ID,
			"name", out.Name, "version", out.Version, "sha256", out.SHA256, "size", out.Size)
	}
	return out, nil
}

// headWriter keeps the first bytes written: enough to recognise an
// executable format.
type headWriter struct{ b []byte }

func (w *headWriter) Write(p []byte) (int, error) {
	if room := 8 - len(w.b); room > 0 {
		w.b = append(w.b, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

// executableFor reports whether head starts like an executable for goos:
// ELF, Mach-O or PE, or a #! script (go-plugin plugins need not be Go).
func executableFor(goos string, head []byte) bool {
	if bytes.HasPrefix(head, []byte("#!")) && goos != "windows" {
		return true
	}
	switch goos {
	case "darwin":
		for _, magic := range [][]byte{{0xcf, 0xfa, 0xed, 0xfe}, {0xce, 0xfa, 0xed, 0xfe}, {0xca, 0xfe, 0xba, 0xbe}} {
			if bytes.HasPrefix(head, magic) {
				return true
			}
		}
		return false
	case "windows":
		return bytes.HasPrefix(head, []byte("MZ"))
	default:
		return bytes.HasPrefix(head, []byte("\x7fELF"))
	}
}

func formatFor(goos string) string {
	switch goos {
	case "darwin":
		return "Mach-O"
	case "windows":
		return "PE (MZ)"
	}
	return "ELF"
}
