package protocol

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"embed"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"

	"github.com/mirrorsink/mirrorsink/contract"
)

// CtxClaim is the JWT claim in which SuperOffice names the tenant (customer context), e.g. "Cust10003".
const CtxClaim = "http://schemes.superoffice.net/identity/ctx"

// DefaultIssuer is the issuer of every SuperOffice mirroring token.
const DefaultIssuer = "SuperOffice AS"

// DefaultSkew is the clock skew tolerated on a token's nbf and exp.
const DefaultSkew = 2 * time.Minute

// DefaultMaxLifetime is the longest exp - nbf a token may have. SuperOffice's tokens live 6 minutes;
// the bound keeps a captured call from being replayable for long (TLS is what keeps it from being
// captured at all).
const DefaultMaxLifetime = 10 * time.Minute

//go:embed certs/*.crt
var embeddedCerts embed.FS

// environmentCerts maps the environment names accepted by LoadCertificates to the embedded files.
var environmentCerts = map[string]string{
	"development": "certs/SuperOfficeFederatedLogin-Development.crt",
	"stage":       "certs/SuperOfficeFederatedLogin-Stage.crt",
	"production":  "certs/SuperOfficeFederatedLogin-Production.crt",
}

// VerifierConfig configures a TokenVerifier.
type VerifierConfig struct {
	// Certificates are the SuperOffice certificates whose keys may sign a token (see LoadCertificates).
	Certificates []*x509.Certificate
	// ClientID is our application's client id: the audience must be "spn:<ClientID>". Required: without
	// it a token SuperOffice issued to any other partner's application would be accepted.
	ClientID string
	// Issuer is the required iss claim; empty means DefaultIssuer.
	Issuer string
	// Skew is the tolerance on nbf and exp; zero means DefaultSkew.
	Skew time.Duration
	// MaxLifetime is the longest exp - nbf accepted; zero means DefaultMaxLifetime.
	MaxLifetime time.Duration
	// Now is the clock; nil means time.Now. Tests pin it to replay captured tokens.
	Now func() time.Time
}

// Claims are the validated contents of a SuperOffice token.
type Claims struct {
	// Tenant is the ctx claim, validated against ^[A-Za-z0-9_]{1,50}$.
	Tenant string
	// Nonce is signed back to SuperOffice in Authenticate's SignedApplicationToken.
	Nonce     string
	Subject   string
	Issuer    string
	Audience  []string
	NotBefore time.Time
	Expires   time.Time
}

// TokenVerifier validates SuperOffice's signed tokens. It is safe for concurrent use.
type TokenVerifier struct {
	keys        map[string]*rsa.PublicKey // by upper-case SHA-1 thumbprint
	all         []jwt.VerificationKey
	audience    string
	issuer      string
	skew        time.Duration
	maxLifetime time.Duration
	now         func() time.Time
}

// NewTokenVerifier returns a verifier for cfg. It needs at least one RSA certificate and the client id.
func NewTokenVerifier(cfg VerifierConfig) (*TokenVerifier, error) {
	if len(cfg.Certificates) == 0 {
		return nil, errors.New("token verifier: no certificate configured")
	}
	clientID := strings.TrimSpace(cfg.ClientID)
	if clientID == "" {
		return nil, errors.New("token verifier: no client id: the audience of every token must be checked")
	}
	v := &TokenVerifier{
		keys:        make(map[string]*rsa.PublicKey, len(cfg.Certificates)),
		audience:    "spn:" + clientID,
		issuer:      cfg.Issuer,
		skew:        cfg.Skew,
		maxLifetime: cfg.MaxLifetime,
		now:         cfg.Now,
	}
	if v.issuer == "" {
		v.issuer = DefaultIssuer
	}
	if v.skew <= 0 {
		v.skew = DefaultSkew
	}
	if v.maxLifetime <= 0 {
		v.maxLifetime = DefaultMaxLifetime
	}
	if v.now == nil {
		v.now = time.Now
	}
	for _, c := range cfg.Certificates {
		if c == nil {
			return nil, errors.New("token verifier: nil certificate")
		}
		pub, ok := c.PublicKey.(*rsa.PublicKey)
		if !ok {
			return nil, fmt.Errorf("token verifier: certificate %q has a %T key, want RSA", c.Subject.CommonName, c.PublicKey)
		}
		v.keys[CertificateThumbprint(c)] = pub
		v.all = append(v.all, pub)
	}
	return v, nil
}

// tokenClaims is the JSON shape of a SuperOffice token's payload.
type tokenClaims struct {
	jwt.RegisteredClaims
	Nonce string `json:"nonce,omitempty"`
	Ctx   string `json:"http://schemes.superoffice.net/identity/ctx,omitempty"`
}

// Verify checks token's signature and claims and returns the claims. Its errors describe the reason in
// words that are safe to show to the caller; they never contain the token.
func (v *TokenVerifier) Verify(token string) (Claims, error) {
	token = strings.TrimSpace(token)
	if token == "" {
		return Claims{}, errors.New("no token")
	}
	opts := []jwt.ParserOption{
		jwt.WithValidMethods([]string{"RS256"}),
		jwt.WithLeeway(v.skew),
		jwt.WithTimeFunc(v.now),
		jwt.WithIssuer(v.issuer),
		jwt.WithAudience(v.audience),
		jwt.WithExpirationRequired(),
	}
	var tc tokenClaims
	_, err := jwt.ParseWithClaims(token, &tc, v.keyFor, opts...)
	if err != nil {
		return Claims{}, v.explain(err, &tc)
	}
	c := Claims{
		Tenant:   tc.Ctx,
		Nonce:    tc.Nonce,
		Subject:  tc.Subject,
		Issuer:   tc.Issuer,
		Audience: []string(tc.Audience),
	}
	if tc.NotBefore != nil {
		c.NotBefore = tc.NotBefore.Time
	}
	if tc.ExpiresAt != nil {
		c.Expires = tc.ExpiresAt.Time
	}
	// The parser has checked that the token is valid now; this bounds how long it is valid at all.
	if c.NotBefore.IsZero() {
		return Claims{}, errors.New("token has no nbf (not before), so its lifetime is unbounded")
	}
	if life := c.Expires.Sub(c.NotBefore); life > v.maxLifetime {
		return Claims{}, fmt.Errorf("token lifetime %s (nbf to exp) exceeds the maximum of %s", life, v.maxLifetime)
	}
	if c.Tenant == "" {
		return Claims{}, errors.New("token has no ctx claim")
	}
	if !contract.ValidTenant(c.Tenant) {
		return Claims{}, fmt.Errorf("token ctx %s is not a valid tenant name", quoteClip(c.Tenant, 60))
	}
	if c.Subject != "" && c.Subject != c.Tenant {
		return Claims{}, fmt.Errorf("token ctx %s differs from its subject %s", c.Tenant, quoteClip(c.Subject, 60))
	}
	return c, nil
}

// keyFor picks the certificate named by the token's kid, or offers every configured key when there is
// none, so that a token signed under an unconfigured certificate is named as such.
func (v *TokenVerifier) keyFor(t *jwt.Token) (any, error) {
	kid, _ := t.Header["kid"].(string)
	if kid == "" {
		return jwt.VerificationKeySet{Keys: v.all}, nil
	}
	if k, ok := v.keys[strings.ToUpper(kid)]; ok {
		return k, nil
	}
	return nil, &keyError{fmt.Sprintf("token key id %s is not a configured certificate", quoteClip(kid, 60))}
}

// keyError is keyFor's reason, recovered by explain from the jwt error chain.
type keyError struct{ msg string }

func (e *keyError) Error() string { return e.msg }

// explain turns a jwt error into a short reason. The claims are those the parser managed to decode.
func (v *TokenVerifier) explain(err error, tc *tokenClaims) error {
	ts := func(d *jwt.NumericDate) string {
		if d == nil {
			return "?"
		}
		return d.UTC().Format(time.RFC3339)
	}
	var ke *keyError
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return errors.New("token is malformed")
	case errors.As(err, &ke):
		return ke
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		return errors.New("token cannot be verified")
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		if strings.Contains(err.Error(), "signing method") {
			return errors.New("token signing method is not RS256")
		}
		return errors.New("token signature is invalid")
	case errors.Is(err, jwt.ErrTokenExpired):
		return fmt.Errorf("token expired at %s", ts(tc.ExpiresAt))
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return fmt.Errorf("token is not valid before %s", ts(tc.NotBefore))
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing) && tc.ExpiresAt == nil:
		return errors.New("token has no expiry")
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing) && tc.Issuer == "":
		return fmt.Errorf("token has no issuer, want %s", v.issuer)
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing) && len(tc.Audience) == 0:
		return fmt.Errorf("token has no audience, want %s", v.audience)
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return fmt.Errorf("token issuer is %s, want %s", quoteClip(tc.Issuer, 60), v.issuer)
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return fmt.Errorf("token audience is %s, want %s", quoteClip(strings.Join(tc.Audience, ","), 100), v.audience)
	}
	return errors.New("token is invalid")
}

// quoteClip cuts s to n bytes for messages, so an attacker-chosen claim cannot flood a log line.
func quoteClip(s string, n int) string {
	if len(s) > n {
		// Cut on a character boundary, so that the quoted text shows no broken character.
		for n > 0 && !utf8.RuneStart(s[n]) {
			n--
		}
		s = s[:n] + "…"
	}
	return fmt.Sprintf("%q", s)
}

// CertificateThumbprint returns cert's SHA-1 thumbprint in upper-case hex: the kid of SuperOffice's tokens.
func CertificateThumbprint(cert *x509.Certificate) string {
	sum := sha1.Sum(cert.Raw)
	return strings.ToUpper(hex.EncodeToString(sum[:]))
}

// LoadCertificates loads token-signing certificates. spec is a comma-separated list of environment names
// (development, stage, production: SuperOffice's embedded certificates) or paths to PEM or DER files.
func LoadCertificates(spec string) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for _, item := range strings.Split(spec, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		var (
			data []byte
			err  error
		)
		if name, ok := environmentCerts[strings.ToLower(item)]; ok {
			data, err = embeddedCerts.ReadFile(name)
		} else {
			data, err = os.ReadFile(item)
		}
		if err != nil {
			return nil, fmt.Errorf("certificates: %w", err)
		}
		cs, err := parseCertificates(data)
		if err != nil {
			return nil, fmt.Errorf("certificates: %s: %w", item, err)
		}
		certs = append(certs, cs...)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("certificates: %q names no certificate", spec)
	}
	return certs, nil
}

// parseCertificates reads every CERTIFICATE block of a PEM file, or one DER certificate.
func parseCertificates(data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	rest := data
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, err
		}
		certs = append(certs, c)
	}
	if len(certs) > 0 {
		return certs, nil
	}
	c, err := x509.ParseCertificate(data)
	if err != nil {
		return nil, errors.New("neither a PEM certificate nor a DER certificate")
	}
	return []*x509.Certificate{c}, nil
}

// TestTokenClaims are the claims of a token made by SignTestToken.
type TestTokenClaims struct {
	Tenant    string
	Nonce     string
	ClientID  string // the audience becomes "spn:<ClientID>" when set
	Issuer    string // empty means DefaultIssuer
	NotBefore time.Time
	Expires   time.Time
}

// SignTestToken signs a token shaped like SuperOffice's (RS256, same claim names) with key. It stands in
// for SuperOffice in the simulator and in tests; kid is usually CertificateThumbprint of key's certificate.
func SignTestToken(key *rsa.PrivateKey, kid string, c TestTokenClaims) (string, error) {
	if key == nil {
		return "", errors.New("sign test token: no key")
	}
	iss := c.Issuer
	if iss == "" {
		iss = DefaultIssuer
	}
	tc := tokenClaims{
		RegisteredClaims: jwt.RegisteredClaims{Subject: c.Tenant, Issuer: iss},
		Nonce:            c.Nonce,
		Ctx:              c.Tenant,
	}
	if c.ClientID != "" {
		tc.Audience = jwt.ClaimStrings{"spn:" + c.ClientID}
	}
	if !c.NotBefore.IsZero() {
		tc.NotBefore = jwt.NewNumericDate(c.NotBefore)
	}
	if !c.Expires.IsZero() {
		tc.ExpiresAt = jwt.NewNumericDate(c.Expires)
	}
	t := jwt.NewWithClaims(jwt.SigningMethodRS256, tc)
	if kid != "" {
		t.Header["kid"] = kid
	}
	s, err := t.SignedString(key)
	if err != nil {
		return "", fmt.Errorf("sign test token: %w", err)
	}
	return s, nil
}

// SelfSignedCertificate makes a certificate for key with common name cn, valid for ten years from now
// minus a day. The simulator uses it as its "SuperOffice" certificate that the server is told to trust.
// It returns the certificate and its PEM encoding.
func SelfSignedCertificate(key *rsa.PrivateKey, cn string, now time.Time) (*x509.Certificate, []byte, error) {
	if key == nil {
		return nil, nil, errors.New("self-signed certificate: no key")
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return nil, nil, fmt.Errorf("self-signed certificate: serial: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn, Organization: []string{"mirrorsink"}},
		NotBefore:    now.Add(-24 * time.Hour),
		NotAfter:     now.AddDate(10, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("self-signed certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, fmt.Errorf("self-signed certificate: %w", err)
	}
	return cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), nil
}
