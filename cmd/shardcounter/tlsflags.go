package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
)

// tlsFlags are a client command's TLS flags, named as redis-cli names
// them: --tls, --cacert and --insecure.
type tlsFlags struct {
	on       bool
	caFile   string
	insecure bool
}

func (f *tlsFlags) register(fs *flag.FlagSet, server string) {
	fs.BoolVar(&f.on, "tls", false, "connect to "+server+" over TLS (its --tls-cert); the certificate is checked against the system's roots unless --cacert or --insecure")
	fs.StringVar(&f.caFile, "cacert", "", "PEM `file` of the CA certificates to trust instead of the system's (with --tls)")
	fs.BoolVar(&f.insecure, "insecure", false, "do not check "+server+"'s certificate (with --tls)")
}

// config is the client TLS configuration for a server at addr, or nil
// without --tls.
func (f *tlsFlags) config(addr string) (*tls.Config, error) {
	if !f.on {
		if f.caFile != "" || f.insecure {
			return nil, errors.New("--cacert and --insecure need --tls")
		}
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: f.insecure}
	if host, _, err := net.SplitHostPort(addr); err == nil {
		cfg.ServerName = host
	}
	if f.caFile != "" {
		pem, err := os.ReadFile(f.caFile)
		if err != nil {
			return nil, fmt.Errorf("--cacert: %w", err)
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--cacert %s: no PEM certificate in it", f.caFile)
		}
	}
	return cfg, nil
}
