"""A SAML 2.0 identity provider for the browser tests, built on pysaml2 (the
identity provider of SATOSA and many universities): HTTP-Redirect
AuthnRequests in, signed responses out by HTTP-POST, signed by xmlsec1.

The sign-in page asks for a user (from USERS) and how to answer, so a test
can also make the answers an attacker or a broken provider would:
  normal     response and assertion signed with the key in the metadata
  unsigned   nothing signed
  other_key  signed by a key that is not in the metadata
  expired    signed, but the assertion's validity ended ten minutes ago
  sha1       signed with the right key, but RSA-SHA1
The answer page shows the SAMLResponse and a "Continue" button, so a test
can keep it (to replay it) before sending it.

Usage: python idp.py PORT DIR SP_METADATA_URL
(DIR receives the keys; the SP's metadata is read at the first request.)
"""

import base64
import html
import os
import subprocess
import sys
import threading

from saml2 import BINDING_HTTP_REDIRECT
from saml2.authn_context import PASSWORD
from saml2.config import IdPConfig
from saml2.metadata import entity_descriptor
from saml2.saml import NAME_FORMAT_BASIC, NAMEID_FORMAT_PERSISTENT, NameID
from saml2.server import Server
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

SHA1_SIGNING = "http://www.w3.org/2000/09/xmldsig#rsa-sha1"
SHA1_DIGEST = "http://www.w3.org/2000/09/xmldsig#sha1"
SHA256_SIGNING = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
SHA256_DIGEST = "http://www.w3.org/2001/04/xmlenc#sha256"

USERS = {
    "sam": {"mail": ["Sam.Saml@clinic.test"], "displayName": ["Dr Sam Saml"], "groups": ["visita-doctors"]},
    "sally": {"mail": ["sally@clinic.test"], "displayName": ["Sally Elsewhere"], "groups": ["other"]},
}


def keypair(directory, name):
    key, cert = os.path.join(directory, f"{name}.key"), os.path.join(directory, f"{name}.pem")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", f"/CN=test idp {name}", "-keyout", key, "-out", cert],
        check=True, capture_output=True,
    )
    return key, cert


class App:
    def __init__(self, base, directory, sp_metadata_url):
        self.base = base
        self.sp_metadata_url = sp_metadata_url
        self.keys = {"normal": keypair(directory, "idp"), "other_key": keypair(directory, "other")}
        self.servers = {}
        self.lock = threading.Lock()

    def config(self, key, cert, lifetime_minutes, sp_metadata=None):
        settings = {
            "entityid": f"{self.base}/metadata",
            "service": {"idp": {
                "endpoints": {"single_sign_on_service": [(f"{self.base}/sso", BINDING_HTTP_REDIRECT)]},
                "policy": {"default": {
                    "lifetime": {"minutes": lifetime_minutes},
                    "attribute_restrictions": None,
                    "name_form": NAME_FORMAT_BASIC,
                }},
                "name_id_format": [NAMEID_FORMAT_PERSISTENT],
            }},
            "key_file": key,
            "cert_file": cert,
            "xmlsec_binary": "/usr/bin/xmlsec1",
        }
        if sp_metadata:
            settings["metadata"] = {"inline": [sp_metadata]}
        config = IdPConfig()
        config.load(settings)
        return config

    def metadata(self):
        key, cert = self.keys["normal"]
        return str(entity_descriptor(self.config(key, cert, 5)))

    def server(self, mode):
        """The pysaml2 server that answers in `mode` (made at first use: the
        SP's metadata is read then)."""
        with self.lock:
            if mode not in self.servers:
                import urllib.request
                sp_metadata = urllib.request.urlopen(self.sp_metadata_url).read().decode()
                key, cert = self.keys["other_key" if mode == "other_key" else "normal"]
                lifetime = -10 if mode == "expired" else 5
                self.servers[mode] = Server(config=self.config(key, cert, lifetime, sp_metadata))
            return self.servers[mode]

    def __call__(self, environ, start_response):
        request = Request(environ)
        try:
            if request.path == "/metadata":
                response = Response(self.metadata(), content_type="application/samlmetadata+xml")
            elif request.path == "/sso":
                response = self.login_page(request)
            elif request.path == "/answer" and request.method == "POST":
                response = self.answer(request)
            else:
                response = Response("not found", status=404)
        except Exception as error:  # a test helper: say what broke
            response = Response(f"idp error: {error!r}", status=500)
        return response(environ, start_response)

    def login_page(self, request):
        saml_request = request.args.get("SAMLRequest", "")
        relay = request.args.get("RelayState", "")
        parsed = self.server("normal").parse_authn_request(saml_request, BINDING_HTTP_REDIRECT)
        body = f"""<!doctype html><html><head><title>Test identity provider</title></head><body>
<h1>Test identity provider</h1><p>Request {html.escape(parsed.message.id)} from {html.escape(parsed.message.issuer.text)}</p>
<form method="post" action="/answer">
<input type="hidden" name="SAMLRequest" value="{html.escape(saml_request)}">
<input type="hidden" name="RelayState" value="{html.escape(relay)}">
<label>User <input name="user"></label>
<label>Answer <select name="mode"><option>normal</option><option>unsigned</option>
<option>other_key</option><option>expired</option><option>sha1</option></select></label>
<button type="submit">Sign in</button></form></body></html>"""
        return Response(body, content_type="text/html")

    def answer(self, request):
        mode = request.form.get("mode", "normal")
        user = request.form.get("user", "")
        if user not in USERS:
            return Response("unknown user", status=403)
        server = self.server(mode)
        parsed = server.parse_authn_request(request.form["SAMLRequest"], BINDING_HTTP_REDIRECT)
        args = server.response_args(parsed.message)
        signed = mode != "unsigned"
        xml = server.create_authn_response(
            dict(USERS[user]),
            userid=user,
            name_id=NameID(format=NAMEID_FORMAT_PERSISTENT, text=f"persistent-{user}"),
            authn={"class_ref": PASSWORD},
            sign_response=signed,
            sign_assertion=signed,
            # pysaml2 signs with SHA-1 unless told otherwise (mode sha1 keeps
            # that, to see it refused).
            sign_alg=SHA1_SIGNING if mode == "sha1" else SHA256_SIGNING,
            digest_alg=SHA1_DIGEST if mode == "sha1" else SHA256_DIGEST,
            **args,
        )
        encoded = base64.b64encode(str(xml).encode()).decode()
        body = f"""<!doctype html><html><head><title>Answer</title></head><body>
<form method="post" action="{html.escape(args['destination'])}">
<input type="hidden" name="SAMLResponse" value="{encoded}">
<input type="hidden" name="RelayState" value="{html.escape(request.form.get('RelayState', ''))}">
<button type="submit">Continue</button></form></body></html>"""
        return Response(body, content_type="text/html")


def main():
    port, directory, sp_metadata_url = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    base = f"http://127.0.0.1:{port}"
    server = make_server("127.0.0.1", port, App(base, directory, sp_metadata_url), threaded=True)
    print(f"SAML identity provider on {base}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
