package plugins

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"regexp"
	"slices"
	"strings"

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

// Quota bounds what each tenant keeps (WithQuota): at most MaxPlugins
// plugins and MaxBytes bytes of executables, each plugin counted with its
// size even when another plugin has the same bytes. 0 is no limit.
type Quota struct {
	MaxPlugins int
	MaxBytes   int64
}

// WithQuota sets the per-tenant upload limits (none by default).
func WithQuota(q Quota) Option { return func(r *Registry) { r.quota = q } }

// ErrQuota means an upload would take the tenant past its quota; see
// [QuotaError]. Nothing was stored.
var ErrQuota = errors.New("plugins: tenant plugin quota reached")

// QuotaError is ErrQuota with the quota and what the tenant keeps.
type QuotaError struct {
	Quota
	Plugins int   // the tenant's plugins before this upload
	Bytes   int64 // their bytes
	Size    int64 // the upload's size; 0 when refused before it was read
}

func (e *QuotaError) Error() string {
	var limits []string
	if e.MaxPlugins > 0 {
		limits = append(limits, fmt.Sprintf("%d plugins", e.MaxPlugins))
	}
	if e.MaxBytes > 0 {
		limits = append(limits, fmt.Sprintf("%d bytes", e.MaxBytes))
	}
	msg := fmt.Sprintf("the tenant keeps %d plugins of %d bytes in all; its quota is %s", e.Plugins, e.Bytes,
		strings.Join(limits, " and "))
	if e.Size > 0 {
		msg += fmt.Sprintf(" and this upload adds %d bytes", e.Size)
	}
	return msg + ": delete plugins it no longer needs"
}

// Is makes errors.Is(err, ErrQuota) true.
func (e *QuotaError) Is(target error) bool { return target == ErrQuota }

// ErrBodyRead means an upload's body could not be read whole; see
// [BodyReadError]. Nothing was stored.
var ErrBodyRead = errors.New("plugins: upload body not received")

// BodyReadError is ErrBodyRead with what happened: Timeout when the client
// sent too slowly for the upload's deadline, else it went away or sent a
// broken body.
type BodyReadError struct {
	Read    int64 // bytes received
	Timeout bool
	Err     error
}

func (e *BodyReadError) Error() string {
	if e.Timeout {
		return fmt.Sprintf("the upload was not received in time: %d bytes arrived before the deadline the server allows for its size", e.Read)
	}
	return fmt.Sprintf("the upload's body was cut off after %d bytes", e.Read)
}

// Is makes errors.Is(err, ErrBodyRead) true.
func (e *BodyReadError) Is(target error) bool { return target == ErrBodyRead }

func (e *BodyReadError) Unwrap() error { return e.Err }

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
// a *TooLargeError, past the tenant's quota a *QuotaError, a body that could
// not be read whole a *BodyReadError; then nothing is stored.
func (r *Registry) Upload(ctx context.Context, p UploadParams, body io.Reader) (Uploaded, error) {
	if err := p.validate(); err != nil {
		return Uploaded{}, err
	}
	// A tenant already at its quota is refused before its bytes are read.
	if err := r.checkQuota(ctx, r.pool, p, 0); err != nil {
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
	src := &readErrs{r: io.LimitReader(body, r.maxSize+1)}
	n, err := io.Copy(io.MultiWriter(f, h, &head), src)
	switch {
	case err != nil && src.err != nil:
		// The client's side: too slow for the deadline, or gone.
		return Uploaded{}, &BodyReadError{Read: n, Timeout: isTimeout(err), Err: err}
	case err != nil:
		return Uploaded{}, fmt.Errorf("spool upload: %w", err)
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
	// Read the bytes back only when Postgres lacks them; checked again
	// under lock in the transaction, as their last plugin may be deleted
	// meanwhile.
	have, err := blobExists(ctx, r.pool, sum)
	if err != nil {
		return Uploaded{}, err
	}
	var data []byte
	release := func() {}
	// The store slot is held until the upload returns: the bytes stay in
	// memory until Postgres has them.
	defer func() { release() }()
	loadSpool := func() error {
		if data != nil {
			return nil
		}
		buf, rel, err := r.readSpool(ctx, f, n)
		if err != nil {
			return err
		}
		release = rel
		if hexSHA256(buf) != sum {
			return fmt.Errorf("upload spool changed while stored")
		}
		data = buf
		return nil
	}
	if !have {
		if err := loadSpool(); err != nil {
			return Uploaded{}, err
		}
	}
	var out Uploaded
	err = db.InTx(ctx, r.pool, func(tx pgx.Tx) error {
		if r.quota != (Quota{}) {
			if err := lockTenantUploads(ctx, tx, p.TenantID); err != nil {
				return err
			}
		}
		// Locked, the bytes stay until the plugin using them is committed.
		ok, err := lockBlobShared(ctx, tx, sum)
		if err != nil {
			return err
		}
		if !ok {
			// New, or deleted with its last plugin since we looked.
			if err := loadSpool(); err != nil {
				return err
			}
			if err := insertBlob(ctx, tx, sum, data); err != nil {
				return err
			}
		}
		pl, created, err := insertPlugin(ctx, tx, p, sum)
		if err != nil {
			return err
		}
		out = Uploaded{Plugin: pl, Created: created}
		if !created {
			return nil
		}
		// Under the tenant's lock, with the new plugin counted.
		if err := r.checkQuota(ctx, tx, p, n); err != nil {
			return err
		}
		if r.audit == nil {
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

// checkQuota refuses an upload that would take the tenant past its quota.
// size 0: before the upload's size is known and its plugin counted; it
// refuses only a tenant already at a limit, as any upload adds a plugin and
// at least a byte (unless its name and version exist: then it adds
// nothing). size > 0: inside the upload's transaction, under the tenant's
// lock, with its plugin of that size counted.
func (r *Registry) checkQuota(ctx context.Context, q db.Querier, p UploadParams, size int64) error {
	if r.quota == (Quota{}) {
		return nil
	}
	u, err := tenantUsage(ctx, q, p.TenantID)
	if err != nil {
		return err
	}
	after := u
	if size == 0 {
		taken, err := nameVersionTaken(ctx, q, p.TenantID, p.Name, p.Version)
		if err != nil || taken {
			return err
		}
		after.plugins, after.bytes = u.plugins+1, u.bytes+1
	} else {
		u.plugins, u.bytes = u.plugins-1, u.bytes-size
	}
	if (r.quota.MaxPlugins > 0 && after.plugins > r.quota.MaxPlugins) || (r.quota.MaxBytes > 0 && after.bytes > r.quota.MaxBytes) {
		return &QuotaError{Quota: r.quota, Plugins: u.plugins, Bytes: u.bytes, Size: size}
	}
	return nil
}

// readSpool reads an upload's spooled bytes back, for the one moment they
// are sent to Postgres; bounded by storeSlots concurrent uploads. The
// buffer is exactly size bytes: the store slots bound memory by it.
func (r *Registry) readSpool(ctx context.Context, f *os.File, size int64) ([]byte, func(), error) {
	select {
	case r.store <- struct{}{}:
	case <-ctx.Done():
		return nil, nil, ctx.Err()
	}
	release := func() { <-r.store }
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		release()
		return nil, nil, fmt.Errorf("rewind upload: %w", err)
	}
	buf := make([]byte, size)
	if _, err := io.ReadFull(f, buf); err != nil {
		release()
		return nil, nil, fmt.Errorf("read upload back: %w", err)
	}
	return buf, release, nil
}

// readErrs remembers the error of the reader it wraps, so a failed copy
// tells the client's failure from the spool file's.
type readErrs struct {
	r   io.Reader
	err error
}

func (e *readErrs) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF {
		e.err = err
	}
	return n, err
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
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
