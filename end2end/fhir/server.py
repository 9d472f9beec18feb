"""A small FHIR R4 server for the browser tests, standing in for a practice
system such as OpenEMR: Appointment, Patient and Practitioner, kept in
memory, every resource written validated with fhir.resources (the R4B
models) and refused with an OperationOutcome when it does not validate.

It speaks what Visita's FHIR client uses: SMART backend services' token
endpoint (OAuth2 client credentials, discovered from
/.well-known/smart-configuration) or basic authentication, read, search by
_lastUpdated (gt/ge) with _count and next links, and update (PUT) with
versions. /_test/… lets the test seed resources and read what was written.

Usage: python server.py PORT CLIENT_ID CLIENT_SECRET
"""

import base64
import json
import secrets
import sys
import threading
from datetime import datetime, timezone

from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

FHIR_JSON = "application/fhir+json"


def now():
    return datetime.now(timezone.utc)


def instant(at):
    return at.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def outcome(status, code, text):
    body = {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": code, "diagnostics": text}]}
    return Response(json.dumps(body), status=status, content_type=FHIR_JSON)


class Store:
    def __init__(self):
        self.lock = threading.Lock()
        self.resources = {}  # (type, id) -> resource
        self.writes = []  # every resource written by a client (PUT)
        self.counter = 0

    def put(self, resource, by_client=False):
        with self.lock:
            key = (resource["resourceType"], resource["id"])
            old = self.resources.get(key)
            version = int(old["meta"]["versionId"]) + 1 if old else 1
            self.counter += 1
            resource.setdefault("meta", {})
            resource["meta"]["versionId"] = str(version)
            resource["meta"]["lastUpdated"] = instant(now())
            self.resources[key] = resource
            if by_client:
                self.writes.append(json.loads(json.dumps(resource)))
            return resource


def validate(resource):
    """The errors of a resource that does not validate, or None."""
    try:
        get_fhir_model_class(resource.get("resourceType")).model_validate(resource)
        return None
    except (ValidationError, KeyError, ValueError) as error:
        return str(error)


class App:
    def __init__(self, base, client_id, client_secret):
        self.base = base
        self.client_id = client_id
        self.client_secret = client_secret
        self.tokens = set()
        self.store = Store()

    def authorized(self, request):
        header = request.headers.get("Authorization", "")
        if header.startswith("Bearer "):
            return header[7:] in self.tokens
        if header.startswith("Basic "):
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
            return (user, password) == (self.client_id, self.client_secret)
        return False

    def __call__(self, environ, start_response):
        request = Request(environ)
        return self.route(request)(environ, start_response)

    def route(self, request):
        path = request.path.rstrip("/")
        if path == "/.well-known/smart-configuration":
            return Response(json.dumps({
                "token_endpoint": f"{self.base}/token",
                "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
                "grant_types_supported": ["client_credentials"],
                "capabilities": ["client-confidential-symmetric"],
            }), content_type="application/json")
        if path == "/token" and request.method == "POST":
            return self.token(request)
        if path.startswith("/_test/"):
            return self.test_api(request, path)
        if not self.authorized(request):
            return outcome(401, "login", "A bearer token or basic credentials are needed.")
        parts = path.strip("/").split("/")
        if len(parts) == 1 and request.method == "GET":
            return self.search(request, parts[0])
        if len(parts) == 2 and request.method == "GET":
            found = self.store.resources.get((parts[0], parts[1]))
            if not found:
                return outcome(404, "not-found", f"No {parts[0]}/{parts[1]}.")
            return Response(json.dumps(found), content_type=FHIR_JSON, headers={"ETag": f'W/"{found["meta"]["versionId"]}"'})
        if len(parts) == 2 and request.method == "PUT":
            return self.update(request, parts[0], parts[1])
        return outcome(405, "not-supported", f"{request.method} {path} is not supported here.")

    def token(self, request):
        header = request.headers.get("Authorization", "")
        user, password = request.form.get("client_id"), request.form.get("client_secret")
        if header.startswith("Basic "):
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        if request.form.get("grant_type") != "client_credentials" or (user, password) != (self.client_id, self.client_secret):
            return Response(json.dumps({"error": "invalid_client"}), status=401, content_type="application/json")
        token = secrets.token_hex(16)
        self.tokens.add(token)
        return Response(json.dumps({"access_token": token, "token_type": "bearer", "expires_in": 300,
                                    "scope": request.form.get("scope", "")}), content_type="application/json")

    def search(self, request, kind):
        since = request.args.get("_lastUpdated")
        count = int(request.args.get("_count", "50"))
        offset = int(request.args.get("_offset", "0"))
        with self.store.lock:
            found = [r for (t, _), r in self.store.resources.items() if t == kind]
        if since:
            prefix, value = since[:2], since[2:]
            if prefix not in ("gt", "ge"):
                return outcome(400, "invalid", "_lastUpdated takes gt or ge here.")
            threshold = datetime.fromisoformat(value.replace("Z", "+00:00"))
            found = [r for r in found
                     if (datetime.fromisoformat(r["meta"]["lastUpdated"].replace("Z", "+00:00")) > threshold)
                     or (prefix == "ge" and datetime.fromisoformat(r["meta"]["lastUpdated"].replace("Z", "+00:00")) == threshold)]
        found.sort(key=lambda r: r["meta"]["lastUpdated"])
        page = found[offset:offset + count]
        links = [{"relation": "self", "url": request.url}]
        if offset + count < len(found):
            args = dict(request.args)
            args["_offset"] = str(offset + count)
            query = "&".join(f"{k}={v}" for k, v in args.items())
            links.append({"relation": "next", "url": f"{self.base}/{kind}?{query}"})
        bundle = {"resourceType": "Bundle", "type": "searchset", "total": len(found), "link": links,
                  "entry": [{"fullUrl": f"{self.base}/{kind}/{r['id']}", "resource": r} for r in page]}
        return Response(json.dumps(bundle), content_type=FHIR_JSON)

    def update(self, request, kind, id_):
        try:
            resource = json.loads(request.get_data(as_text=True))
        except ValueError:
            return outcome(400, "structure", "The body is not JSON.")
        if resource.get("resourceType") != kind or resource.get("id") != id_:
            return outcome(400, "invalid", "The resource's type and id must match the URL.")
        current = self.store.resources.get((kind, id_))
        if current is None:
            return outcome(404, "not-found", f"No {kind}/{id_}.")
        match = request.headers.get("If-Match")
        if match and match.strip('W/"') != current["meta"]["versionId"]:
            return outcome(412, "conflict", "The resource changed since it was read.")
        errors = validate(resource)
        if errors:
            return outcome(422, "invalid", errors)
        stored = self.store.put(resource, by_client=True)
        return Response(json.dumps(stored), content_type=FHIR_JSON)

    def test_api(self, request, path):
        if path == "/_test/seed" and request.method == "POST":
            resource = json.loads(request.get_data(as_text=True))
            errors = validate(resource)
            if errors:
                return outcome(422, "invalid", errors)
            return Response(json.dumps(self.store.put(resource)), content_type=FHIR_JSON)
        if path == "/_test/writes":
            return Response(json.dumps(self.store.writes), content_type="application/json")
        return outcome(404, "not-found", path)


def main():
    port, client_id, client_secret = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    base = f"http://127.0.0.1:{port}"
    server = make_server("127.0.0.1", port, App(base, client_id, client_secret), threaded=True)
    print(f"FHIR server on {base}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
