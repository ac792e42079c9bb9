// Package pglocal runs a private PostgreSQL cluster from the system's
// PostgreSQL installation as a child process of the caller: `partnerhub dev`
// keeps one under ./.partnerhub across runs, and tests (through pgtest) start a
// throwaway one per test package. It needs no Docker, no system service and no
// running server, only the server binaries (see FindBinDir).
//
// # Authentication
//
// The server listens on 127.0.0.1 and on a Unix socket in Dir/sock, where
// every local user can reach it: the users partnerhub runs tenant plugins as
// included. So it does not trust connections: a new cluster is initialised
// with scram-sha-256 authentication for socket and TCP connections alike, and
// its superuser ("postgres") gets a random password (32 random bytes,
// base64url-encoded). The password is kept in Dir/superuser.password, mode
// 0600 and owned by the user calling Start (root included: not the user the
// server runs as), and is written before the new cluster is moved into place,
// so that no crash leaves a cluster whose password is lost. Cluster.URL and
// Cluster.AdminURL carry it: treat them as secrets, and never log them.
// pglocal itself never logs the password nor puts it in an error.
//
// A cluster made before passwords (authentication "trust", no password file)
// still starts, with password-less URLs, and Start logs a warning: any local
// user can connect to it as superuser. Delete its directory to have a
// protected one made in its place (its data is lost). A password-protected
// cluster whose password file was deleted cannot be entered any more: Start
// fails and says so.
//
// The user the server runs as (see Root below) owns the data files, and so
// can read everything without a password: it must not be a user untrusted
// code runs as.
//
// The cluster is for development and tests, never for anything that holds
// real data.
//
// # Root
//
// Postgres refuses to run as root, so when the caller is root the cluster runs
// as Options.RunAs and its directory is handed to that user (the password file
// excepted). Every parent of Options.Dir must then be searchable by that user;
// a directory under a 0700 one (t.TempDir(), /root) is not, and Start fails
// with ErrUnreachableDir. os.MkdirTemp("", ...) (under /tmp) works.
package pglocal
