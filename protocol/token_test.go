package protocol

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const sampleClientID = "6cf25376616343b38d14ddcd804f2891"

// sampleToken extracts the SignedToken text of a captured request without the wire decoder, so that
// token tests do not depend on it.
func sampleToken(t *testing.T, file string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "testdata", "superoffice", file))
	if err != nil {
		t.Fatal(err)
	}
	s := string(data)
	i := strings.Index(s, ">eyJ")
	if i < 0 {
		t.Fatalf("%s: no token", file)
	}
	s = s[i+1:]
	return strings.TrimSpace(s[:strings.IndexByte(s, '<')])
}

// tokenPayload decodes a token's claims without verifying it.
func tokenPayload(t *testing.T, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]any{}
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// sampleClock returns a clock pinned one minute after the token's nbf.
func sampleClock(t *testing.T, tok string) func() time.Time {
	nbf := int64(tokenPayload(t, tok)["nbf"].(float64))
	at := time.Unix(nbf+60, 0)
	return func() time.Time { return at }
}

func devVerifier(t *testing.T, now func() time.Time, clientID string) *TokenVerifier {
	t.Helper()
	certs, err := LoadCertificates("development")
	if err != nil {
		t.Fatal(err)
	}
	v, err := NewTokenVerifier(VerifierConfig{Certificates: certs, ClientID: clientID, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestVerifySamples(t *testing.T) {
	cases := []struct {
		file, tenant, nonce string
	}{
		{"SampleAuthenticateRequest.xml", "Cust10003", "BDB65A558F193A8DD88E50E7416C0D86"},
		{"SampleWipeRequest.xml", "Cust24709", "CA6DBADA14A9C89DFD71B0FABC33E96A"},
		{"SampleRowDataRequest.xml", "Cust24709", "A221BC27F364E29E2C60BF4D18BFF49D"},
		{"ReplicationCompletedRequest.xml", "Cust24709", "A74CC8ACFB20FF5D6C1540957D4F5671"},
		{"TableSchemaRequest-excerpt.xml", "", ""},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			tok := sampleToken(t, c.file)
			v := devVerifier(t, sampleClock(t, tok), sampleClientID)
			got, err := v.Verify(tok)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if c.tenant != "" && (got.Tenant != c.tenant || got.Subject != c.tenant) {
				t.Errorf("tenant %q subject %q, want %q", got.Tenant, got.Subject, c.tenant)
			}
			if c.nonce != "" && got.Nonce != c.nonce {
				t.Errorf("nonce %q, want %q", got.Nonce, c.nonce)
			}
			if got.Issuer != "SuperOffice AS" || len(got.Audience) != 1 || got.Audience[0] != "spn:"+sampleClientID {
				t.Errorf("issuer %q audience %q", got.Issuer, got.Audience)
			}
			if got.Expires.Sub(got.NotBefore) != 6*time.Minute {
				t.Errorf("window %v..%v", got.NotBefore, got.Expires)
			}
		})
	}
}

func TestVerifySampleFailures(t *testing.T) {
	tok := sampleToken(t, "SampleAuthenticateRequest.xml")
	pinned := sampleClock(t, tok)
	late := func() time.Time { return pinned().Add(8 * time.Minute) }   // exp is nbf+6m; skew 2m
	early := func() time.Time { return pinned().Add(-4 * time.Minute) } // nbf-3m
	justLate := func() time.Time { return pinned().Add(6*time.Minute + 30*time.Second) }

	// The real sample with one payload character changed (the tenant's last digit).
	parts := strings.Split(tok, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	payload = []byte(strings.Replace(string(payload), `"sub":"Cust10003"`, `"sub":"Cust10004"`, 1))
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString(payload) + "." + parts[2]

	prod, err := LoadCertificates("production")
	if err != nil {
		t.Fatal(err)
	}
	prodVerifier, err := NewTokenVerifier(VerifierConfig{Certificates: prod, ClientID: sampleClientID, Now: pinned})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		v     *TokenVerifier
		token string
		want  string
	}{
		{"expired", devVerifier(t, late, sampleClientID), tok, "token expired at 2021-09-16T11:30:26Z"},
		{"within skew", devVerifier(t, justLate, sampleClientID), tok, ""},
		{"not yet valid", devVerifier(t, early, sampleClientID), tok, "token is not valid before 2021-09-16T11:24:26Z"},
		{"wrong audience", devVerifier(t, pinned, "other"), tok, `token audience is "spn:` + sampleClientID + `", want spn:other`},
		{"tampered payload", devVerifier(t, pinned, sampleClientID), tampered, "token signature is invalid"},
		{"other environment", prodVerifier, tok, "token key id \"16B7FB8C3F9AB06885A800C64E64C97C4AB5E98C\" is not a configured certificate"},
		{"empty", devVerifier(t, pinned, sampleClientID), "  ", "no token"},
		{"garbage", devVerifier(t, pinned, sampleClientID), "not.a.jwt", "token is malformed"},
		// A token SuperOffice signed for another partner's application is refused like a forged one.
		{"another application's token", devVerifier(t, pinned, "other-app"), tok, `token audience is "spn:` + sampleClientID + `", want spn:other-app`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := c.v.Verify(c.token)
			checkTokenErr(t, err, c.want, c.token)
		})
	}
}

func checkTokenErr(t *testing.T, err error, want, token string) {
	t.Helper()
	if want == "" {
		if err != nil {
			t.Fatalf("Verify: %v", err)
		}
		return
	}
	if err == nil {
		t.Fatalf("Verify succeeded, want %q", want)
	}
	if err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
	if len(token) > 20 && strings.Contains(err.Error(), token[len(token)-20:]) {
		t.Errorf("error shows the token")
	}
}

var (
	testKeysOnce sync.Once
	testKeyA     *rsa.PrivateKey
	testKeyB     *rsa.PrivateKey
)

// testKeys returns two RSA keys, generated once per test binary because key generation is slow.
func testKeys(t *testing.T) (*rsa.PrivateKey, *rsa.PrivateKey) {
	t.Helper()
	testKeysOnce.Do(func() {
		var err error
		if testKeyA, err = GenerateKeyPair(2048); err != nil {
			panic(err)
		}
		if testKeyB, err = GenerateKeyPair(2048); err != nil {
			panic(err)
		}
	})
	return testKeyA, testKeyB
}

func TestVerifyForged(t *testing.T) {
	key, other := testKeys(t)
	now := time.Date(2030, 5, 6, 7, 8, 9, 0, time.UTC)
	clock := func() time.Time { return now }
	cert, certPEM, err := SelfSignedCertificate(key, "Test SuperOffice", now)
	if err != nil {
		t.Fatal(err)
	}
	// The certificate must round-trip through a file, as the server's configuration loads it.
	path := filepath.Join(t.TempDir(), "so.crt")
	if err := os.WriteFile(path, certPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	certs, err := LoadCertificates("development, " + path)
	if err != nil || len(certs) != 2 || CertificateThumbprint(certs[1]) != CertificateThumbprint(cert) {
		t.Fatalf("LoadCertificates: %v (%d)", err, len(certs))
	}
	v, err := NewTokenVerifier(VerifierConfig{Certificates: certs, ClientID: "app", Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	kid := CertificateThumbprint(cert)
	good := TestTokenClaims{Tenant: "Cust1", Nonce: "N1", ClientID: "app", NotBefore: now.Add(-time.Minute), Expires: now.Add(5 * time.Minute)}

	sign := func(c TestTokenClaims, k *rsa.PrivateKey, kid string) string {
		s, err := SignTestToken(k, kid, c)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	mapToken := func(m jwt.MapClaims) string {
		tk := jwt.NewWithClaims(jwt.SigningMethodRS256, m)
		tk.Header["kid"] = kid
		s, err := tk.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	base := func() jwt.MapClaims {
		return jwt.MapClaims{"sub": "Cust1", CtxClaim: "Cust1", "nonce": "N", "iss": "SuperOffice AS",
			"aud": "spn:app", "nbf": now.Add(-time.Minute).Unix(), "exp": now.Add(time.Minute).Unix()}
	}
	with := func(mod func(jwt.MapClaims)) string {
		m := base()
		mod(m)
		return mapToken(m)
	}
	none, err := jwt.NewWithClaims(jwt.SigningMethodNone, base()).SignedString(jwt.UnsafeAllowNoneSignatureType)
	if err != nil {
		t.Fatal(err)
	}
	pubDER, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	hmacKey := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	hs := jwt.NewWithClaims(jwt.SigningMethodHS256, base())
	hs.Header["kid"] = kid
	hs256, err := hs.SignedString(hmacKey)
	if err != nil {
		t.Fatal(err)
	}

	mod := func(f func(*TestTokenClaims)) TestTokenClaims { c := good; f(&c); return c }
	cases := []struct {
		name, token, want string
	}{
		{"valid", sign(good, key, kid), ""},
		{"valid without kid", sign(good, key, ""), ""},
		{"kid lower case", sign(good, key, strings.ToLower(kid)), ""},
		{"expired", sign(mod(func(c *TestTokenClaims) { c.Expires = now.Add(-3 * time.Minute) }), key, kid),
			"token expired at 2030-05-06T07:05:09Z"},
		{"not yet valid", sign(mod(func(c *TestTokenClaims) { c.NotBefore = now.Add(3 * time.Minute) }), key, kid),
			"token is not valid before 2030-05-06T07:11:09Z"},
		{"no expiry", sign(mod(func(c *TestTokenClaims) { c.Expires = time.Time{} }), key, kid), "token has no expiry"},
		{"wrong issuer", sign(mod(func(c *TestTokenClaims) { c.Issuer = "Evil Inc" }), key, kid),
			`token issuer is "Evil Inc", want SuperOffice AS`},
		{"wrong audience", sign(mod(func(c *TestTokenClaims) { c.ClientID = "other" }), key, kid),
			`token audience is "spn:other", want spn:app`},
		{"no audience", sign(mod(func(c *TestTokenClaims) { c.ClientID = "" }), key, kid),
			`token has no audience, want spn:app`},
		{"no issuer", with(func(m jwt.MapClaims) { delete(m, "iss") }), "token has no issuer, want SuperOffice AS"},
		{"alg none", none, "token signing method is not RS256"},
		{"HS256 with the public key", hs256, "token signing method is not RS256"},
		{"another key", sign(good, other, kid), "token signature is invalid"},
		{"another key without kid", sign(good, other, ""), "token signature is invalid"},
		{"unknown kid", sign(good, key, "ABCDEF"), `token key id "ABCDEF" is not a configured certificate`},
		{"missing ctx", with(func(m jwt.MapClaims) { delete(m, CtxClaim) }), "token has no ctx claim"},
		{"ctx with semicolon", with(func(m jwt.MapClaims) { m[CtxClaim] = "Cust1;drop"; m["sub"] = "Cust1;drop" }),
			`token ctx "Cust1;drop" is not a valid tenant name`},
		{"ctx too long", with(func(m jwt.MapClaims) { m[CtxClaim] = strings.Repeat("a", 51); delete(m, "sub") }),
			`token ctx "` + strings.Repeat("a", 51) + `" is not a valid tenant name`},
		{"ctx differs from sub", with(func(m jwt.MapClaims) { m["sub"] = "Cust2" }),
			`token ctx Cust1 differs from its subject "Cust2"`},
		{"no sub", with(func(m jwt.MapClaims) { delete(m, "sub") }), ""},
		{"lifetime at the maximum", sign(mod(func(c *TestTokenClaims) { c.Expires = c.NotBefore.Add(DefaultMaxLifetime) }), key, kid), ""},
		{"lifetime over the maximum", sign(mod(func(c *TestTokenClaims) { c.Expires = c.NotBefore.Add(DefaultMaxLifetime + time.Second) }), key, kid),
			"token lifetime 10m1s (nbf to exp) exceeds the maximum of 10m0s"},
		{"a year-long token", sign(mod(func(c *TestTokenClaims) { c.Expires = now.AddDate(1, 0, 0) }), key, kid),
			"token lifetime 8760h1m0s (nbf to exp) exceeds the maximum of 10m0s"},
		{"no nbf", sign(mod(func(c *TestTokenClaims) { c.NotBefore = time.Time{} }), key, kid),
			"token has no nbf (not before), so its lifetime is unbounded"},
		{"ctx not a string", with(func(m jwt.MapClaims) { m[CtxClaim] = 5 }), "token is malformed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := v.Verify(c.token)
			checkTokenErr(t, err, c.want, c.token)
			if c.want == "" && got.Tenant != "Cust1" {
				t.Errorf("tenant %q", got.Tenant)
			}
		})
	}
}

// A verifier always checks the audience, and the lifetime bound is configurable.
func TestVerifierConfig(t *testing.T) {
	key, _ := testKeys(t)
	now := time.Date(2030, 5, 6, 7, 8, 9, 0, time.UTC)
	cert, _, err := SelfSignedCertificate(key, "Test SuperOffice", now)
	if err != nil {
		t.Fatal(err)
	}
	certs := []*x509.Certificate{cert}
	for _, id := range []string{"", "   "} {
		if _, err := NewTokenVerifier(VerifierConfig{Certificates: certs, ClientID: id}); err == nil || !strings.Contains(err.Error(), "no client id") {
			t.Errorf("client id %q: %v, want a refusal", id, err)
		}
	}
	v, err := NewTokenVerifier(VerifierConfig{Certificates: certs, ClientID: "app", MaxLifetime: 3 * time.Minute,
		Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := SignTestToken(key, CertificateThumbprint(cert), TestTokenClaims{Tenant: "Cust1", ClientID: "app",
		NotBefore: now.Add(-time.Minute), Expires: now.Add(2*time.Minute + time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(tok); err == nil || err.Error() != "token lifetime 3m1s (nbf to exp) exceeds the maximum of 3m0s" {
		t.Errorf("a 3m1s token with a 3m maximum: %v", err)
	}
}

func TestLoadCertificates(t *testing.T) {
	cases := []struct {
		spec  string
		n     int
		thumb string
		err   bool
	}{
		{"development", 1, "16B7FB8C3F9AB06885A800C64E64C97C4AB5E98C", false},
		{"Stage", 1, "484903A7732B928C7980A39D38E947EA119F1089", false},
		{"production", 1, "60B61583DBB2B7EEC46FD01EC0056E62451D61F3", false},
		{"development,stage , production", 3, "16B7FB8C3F9AB06885A800C64E64C97C4AB5E98C", false},
		{"../testdata/superoffice/SuperOfficeFederatedLogin-Stage.crt", 1, "484903A7732B928C7980A39D38E947EA119F1089", false},
		{"", 0, "", true},
		{"nowhere.crt", 0, "", true},
		{"../testdata/superoffice/SampleWipeRequest.xml", 0, "", true},
	}
	for _, c := range cases {
		certs, err := LoadCertificates(c.spec)
		if (err != nil) != c.err {
			t.Errorf("%q: err %v", c.spec, err)
			continue
		}
		if len(certs) != c.n || (c.n > 0 && CertificateThumbprint(certs[0]) != c.thumb) {
			t.Errorf("%q: %d certs", c.spec, len(certs))
		}
	}
	// DER form of the same certificate.
	pemData, _ := os.ReadFile("../testdata/superoffice/SuperOfficeFederatedLogin-Development.crt")
	b, _ := pem.Decode(pemData)
	der := filepath.Join(t.TempDir(), "dev.der")
	if err := os.WriteFile(der, b.Bytes, 0o644); err != nil {
		t.Fatal(err)
	}
	certs, err := LoadCertificates(der)
	if err != nil || CertificateThumbprint(certs[0]) != "16B7FB8C3F9AB06885A800C64E64C97C4AB5E98C" {
		t.Errorf("DER: %v", err)
	}
}

func TestEmbeddedCertificatesUnchanged(t *testing.T) {
	for _, name := range []string{"Development", "Stage", "Production"} {
		want, err := os.ReadFile("../testdata/superoffice/SuperOfficeFederatedLogin-" + name + ".crt")
		if err != nil {
			t.Fatal(err)
		}
		got, err := embeddedCerts.ReadFile("certs/SuperOfficeFederatedLogin-" + name + ".crt")
		if err != nil || string(got) != string(want) {
			t.Errorf("%s: embedded certificate differs (%v)", name, err)
		}
	}
}
