package emulator

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"time"
)

// Options says how Start serves.
type Options struct {
	// Addr is the listen address; empty means "127.0.0.1:0" (a free loopback port).
	Addr string
	// TLS serves HTTPS with a fresh self-signed certificate for 127.0.0.1,
	// ::1 and localhost. Clients verify it with CertPool or CertPEM (for
	// SSL_CERT_FILE).
	TLS bool
}

// Running is an emulator serving on a port. It embeds the Server, so
// Requests, Count and Reset are available on it.
type Running struct {
	*Server
	// URL is the base URL, such as "https://127.0.0.1:41234": the Azure
	// endpoint; OpenAI-style clients use URL + "/v1".
	URL string

	srv     *http.Server
	cert    *x509.Certificate
	certPEM []byte
	done    chan struct{}
	err     error
}

// Start serves a new emulator with cfg until Close.
func Start(cfg Config, opts Options) (*Running, error) {
	addr := opts.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	s := New(cfg)
	srv := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          nil,
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("emulator: listen on %s: %w", addr, err)
	}
	r := &Running{Server: s, srv: srv, done: make(chan struct{})}
	scheme := "http"
	if opts.TLS {
		cert, certPEM, err := selfSigned()
		if err != nil {
			_ = ln.Close()
			return nil, err
		}
		r.cert, r.certPEM = cert.Leaf, certPEM
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		scheme = "https"
	}
	r.URL = scheme + "://" + ln.Addr().String()
	go func() {
		defer close(r.done)
		var err error
		if opts.TLS {
			err = srv.ServeTLS(ln, "", "")
		} else {
			err = srv.Serve(ln)
		}
		if !errors.Is(err, http.ErrServerClosed) {
			r.err = err
		}
	}()
	return r, nil
}

// Close stops serving at once, dropping open connections.
func (r *Running) Close() error {
	err := r.srv.Close()
	<-r.done
	return errors.Join(err, r.err)
}

// Shutdown stops accepting requests and waits for open ones to finish, or
// for ctx to end.
func (r *Running) Shutdown(ctx context.Context) error {
	err := r.srv.Shutdown(ctx)
	if err != nil {
		_ = r.srv.Close()
	}
	<-r.done
	return errors.Join(err, r.err)
}

// Certificate returns the self-signed certificate, or nil without TLS.
func (r *Running) Certificate() *x509.Certificate { return r.cert }

// CertPEM returns the certificate in PEM form (what SSL_CERT_FILE points
// to), or nil without TLS.
func (r *Running) CertPEM() []byte { return r.certPEM }

// CertPool returns a pool that trusts the emulator's certificate, or nil
// without TLS.
func (r *Running) CertPool() *x509.CertPool {
	if r.cert == nil {
		return nil
	}
	p := x509.NewCertPool()
	p.AddCert(r.cert)
	return p
}

// Client returns an HTTP client that trusts the emulator's certificate.
func (r *Running) Client() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	if r.cert != nil {
		t.TLSClientConfig = &tls.Config{RootCAs: r.CertPool(), MinVersion: tls.VersionTLS12}
	}
	return &http.Client{Transport: t}
}

// selfSigned makes a certificate for the loopback names, valid for a day.
func selfSigned() (tls.Certificate, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("emulator: certificate key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("emulator: certificate serial: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "newsroom emulator", Organization: []string{"newsroom"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("emulator: certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("emulator: certificate: %w", err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, certPEM, nil
}
