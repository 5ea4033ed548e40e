"""Partners authenticate with client certificates over mutual TLS, against a real server.

A throw-away CA issues the server's certificate (for 127.0.0.1) and the partners' client
certificates; as in PKIoverheid, a partner's OIN is the `serialNumber` of the subject. A second,
untrusted CA issues look-alike certificates. Every test talks HTTPS to a real uvicorn server on a
free port and checks what the store holds afterwards.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ketenherstel.bootstrap import Runtime, bootstrap
from ketenherstel.exchange.auth import LOCAL_OPERATOR
from ketenherstel.settings import Settings
from ketenherstel.web.server import ServerThread

POLITIE_OIN = "00000001003214345000"
KMAR_OIN = "00000001003214346000"
OM_OIN = "00000001003214347000"
UNREGISTERED_OIN = "00000001009999999000"
PV = "nl.strafrechtketen.opsporing.proces-verbaal-ingezonden.v1"
STRUCTURED = "application/cloudevents+json"
PROBLEM_JSON = "application/problem+json"


# -- a throw-away PKI ---------------------------------------------------------------------------


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class CertificateAuthority:
    name: str
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate
    directory: Path

    @classmethod
    def create(cls, directory: Path, name: str) -> CertificateAuthority:
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.COUNTRY_NAME, "NL"),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Test PKI"),
                x509.NameAttribute(NameOID.COMMON_NAME, name),
            ]
        )
        public = key.public_key()
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(_now() - dt.timedelta(hours=1))
            .not_valid_after(_now() + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
            .sign(key, hashes.SHA256())
        )
        directory.mkdir(parents=True, exist_ok=True)
        ca = cls(name, key, cert, directory)
        ca.cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        return ca

    @property
    def cert_file(self) -> Path:
        return self.directory / "ca.pem"

    def issue(
        self,
        label: str,
        subject: list[x509.NameAttribute[str]],
        *,
        client: bool = True,
        ip: str | None = None,
    ) -> tuple[Path, Path]:
        """A leaf certificate and its key, as PEM files: (certfile, keyfile)."""
        key = ec.generate_private_key(ec.SECP256R1())
        public = key.public_key()
        usage = ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name(subject))
            .issuer_name(self.cert.subject)
            .public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(_now() - dt.timedelta(hours=1))
            .not_valid_after(_now() + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                critical=False,
            )
        )
        if ip is not None:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(ip))]),
                critical=False,
            )
        cert = builder.sign(self.key, hashes.SHA256())
        certfile = self.directory / f"{label}.pem"
        keyfile = self.directory / f"{label}.key"
        certfile.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        keyfile.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        return certfile, keyfile

    def partner(self, label: str, organisation: str, oin: str | None) -> tuple[Path, Path]:
        """A PKIoverheid-style client certificate: the OIN is the subject's serialNumber."""
        subject = [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "NL"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
        ]
        if oin is not None:
            subject.append(x509.NameAttribute(NameOID.SERIAL_NUMBER, oin))
        subject.append(x509.NameAttribute(NameOID.COMMON_NAME, f"{label}.systeem.example"))
        return self.issue(label, subject)


@dataclass
class Pki:
    ca: CertificateAuthority
    rogue: CertificateAuthority
    server_cert: Path
    server_key: Path


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    ca = CertificateAuthority.create(tmp_path / "pki", "Test PKIoverheid Private Services CA")
    rogue = CertificateAuthority.create(tmp_path / "rogue", "Somebody Else's CA")
    server_cert, server_key = ca.issue(
        "server",
        [x509.NameAttribute(NameOID.COMMON_NAME, "exchange.test")],
        client=False,
        ip="127.0.0.1",
    )
    return Pki(ca, rogue, server_cert, server_key)


# -- the exchange over mTLS ---------------------------------------------------------------------


@dataclass
class Served:
    runtime: Runtime
    url: str
    pki: Pki

    def client(
        self, cert: tuple[Path, Path] | None, tls: ssl.TLSVersion | None = None
    ) -> httpx.Client:
        """An HTTPS client that trusts the test CA and presents `cert` (if any)."""
        context = ssl.create_default_context(cafile=str(self.pki.ca.cert_file))
        if tls is not None:
            context.minimum_version = context.maximum_version = tls
        if cert is not None:
            context.load_cert_chain(certfile=str(cert[0]), keyfile=str(cert[1]))
        return httpx.Client(base_url=self.url, verify=context, timeout=20)

    def stored(self, event: dict[str, Any]) -> Any:
        return self.runtime.store.message(event["source"], event["id"])


@pytest.fixture
def served(tmp_path: Path, pki: Pki) -> Iterator[Served]:
    runtime = bootstrap(Settings(store_url=str(tmp_path / "x.db")))
    try:
        for key in ("politie", "kmar", "om"):
            runtime.exchange.register_partner(principal=LOCAL_OPERATOR, key=key)
        with ServerThread(
            runtime,
            certfile=pki.server_cert,
            keyfile=pki.server_key,
            ca_certs=pki.ca.cert_file,
        ) as server:
            assert server.url.startswith("https://127.0.0.1:")
            yield Served(runtime, server.url, pki)
    finally:
        runtime.close()


def pv_event(oin: str, n: int = 1) -> dict[str, Any]:
    """A valid 'proces-verbaal ingezonden' from the system of the partner with `oin`."""
    case = f"SKN-{n:010d}"
    return {
        "specversion": "1.0",
        "id": f"pv-{n}",
        "source": f"urn:nld:oin:{oin}:systeem:bvh",
        "type": PV,
        "subject": case,
        "time": "2025-07-17T21:00:00Z",
        "datacontenttype": "application/json",
        "partitionkey": case,
        "sequence": n,
        "sequencetype": "Integer",
        "data": {
            "policeCaseNumber": f"PL0900-{2025000000 + n}",
            "parketnummer": f"09-{n:06d}-25",
            "skn": case,
            "completedAt": "2025-07-17T20:30:00Z",
            "offences": [{"article": "art. 310 Sr", "category": "vermogen"}],
            "suspectDetained": False,
        },
    }


def post_event(client: httpx.Client, event: dict[str, Any]) -> httpx.Response:
    return client.post(
        "/v1/events", content=orjson.dumps(event), headers={"Content-Type": STRUCTURED}
    )


def assert_problem(response: httpx.Response, status: int, *fragments: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    problem: dict[str, Any] = response.json()
    assert problem["status"] == status
    text = orjson.dumps(problem).decode()
    for fragment in fragments:
        assert fragment in text, problem
    return problem


def assert_nothing_stored(served: Served, event: dict[str, Any]) -> None:
    assert served.stored(event) is None
    assert served.runtime.store.queue_stats() == []


# -- tests ------------------------------------------------------------------------------------


def test_partner_certificate_submits_as_that_partner_and_receiver_pulls_it(
    served: Served,
) -> None:
    politie = served.pki.ca.partner("politie-bvh", "Politie", POLITIE_OIN)
    om = served.pki.ca.partner("om-gps", "Openbaar Ministerie", OM_OIN)
    event = pv_event(POLITIE_OIN)

    with served.client(politie) as sender:
        response = post_event(sender, event)
    assert response.status_code == 201, response.text
    result = response.json()
    assert result["accepted"] == 1
    assert result["results"][0]["status"] == "accepted"
    assert result["results"][0]["deliveries"] == 1
    stored = served.stored(event)
    assert stored is not None
    assert stored.sender == "politie"  # the certificate's OIN decided who sent it

    with served.client(om) as receiver:
        page = receiver.get("/v1/deliveries", params={"limit": 10})
        assert page.status_code == 200, page.text
        deliveries = page.json()["deliveries"]
        assert [d["event"] for d in deliveries] == [event]
        ack = receiver.post(
            "/v1/acknowledgements", json={"deliveryIds": [deliveries[0]["deliveryId"]]}
        )
        assert ack.status_code == 200, ack.text
        assert ack.json()["results"][0]["status"] == "acked"

    # The sender's certificate does not make it a receiver of its own event.
    with served.client(politie) as sender:
        page = sender.get("/v1/deliveries")
    assert page.status_code == 200, page.text
    assert page.json()["deliveries"] == []


# With TLS 1.2 the server's verdict on the client certificate ends the handshake itself; with
# TLS 1.3 the client's side of the handshake completes first and the server closes the connection
# before reading a request. Either way no HTTP response comes back.
REFUSALS = pytest.mark.parametrize(
    ("tls", "refusal"),
    [
        (ssl.TLSVersion.TLSv1_2, httpx.ConnectError),
        (ssl.TLSVersion.TLSv1_3, httpx.TransportError),
    ],
    ids=["TLSv1.2", "TLSv1.3"],
)


@REFUSALS
def test_certificate_from_another_ca_is_refused_at_the_tls_handshake(
    served: Served, tls: ssl.TLSVersion, refusal: type[Exception]
) -> None:
    # Same subject, same OIN as the genuine politie certificate; only the issuer differs.
    forged = served.pki.rogue.partner("politie-forged", "Politie", POLITIE_OIN)
    genuine = served.pki.ca.partner("politie-bvh", "Politie", POLITIE_OIN)
    event = pv_event(POLITIE_OIN)

    with served.client(forged, tls) as client, pytest.raises(refusal):
        post_event(client, event)
    assert_nothing_stored(served, event)

    # The control: the same request with the genuine certificate is accepted.
    with served.client(genuine, tls) as client:
        response = post_event(client, event)
    assert response.status_code == 201, response.text
    assert served.stored(event) is not None


def test_certificate_for_an_oin_no_partner_has_gets_401_problem(served: Served) -> None:
    stranger = served.pki.ca.partner("stranger", "Onbekende Organisatie", UNREGISTERED_OIN)
    event = pv_event(UNREGISTERED_OIN)

    with served.client(stranger) as client:
        response = post_event(client, event)
        assert_problem(response, 401, UNREGISTERED_OIN)
        pulled = client.get("/v1/deliveries")
        assert_problem(pulled, 401, UNREGISTERED_OIN)
    assert_nothing_stored(served, event)


def test_partner_a_cannot_send_an_event_whose_source_carries_partner_b_oin(
    served: Served,
) -> None:
    politie = served.pki.ca.partner("politie-bvh", "Politie", POLITIE_OIN)
    # The KMar may send this type too: the only thing wrong is whose OIN is in the source.
    event = pv_event(KMAR_OIN)

    with served.client(politie) as client:
        response = post_event(client, event)
    problem = assert_problem(response, 403, KMAR_OIN)
    assert [p["field"] for p in problem["problems"]] == ["source"]
    assert_nothing_stored(served, event)


@REFUSALS
def test_connection_without_a_client_certificate_is_refused_when_mtls_is_on(
    served: Served, tls: ssl.TLSVersion, refusal: type[Exception]
) -> None:
    # Even a valid bearer token does not stand in for the certificate the transport demands.
    token, _ = served.runtime.exchange.create_token(
        principal=LOCAL_OPERATOR, role="partner", partner="politie"
    )
    event = pv_event(POLITIE_OIN)

    with served.client(None, tls) as client, pytest.raises(refusal):
        client.post(
            "/v1/events",
            content=orjson.dumps(event),
            headers={"Content-Type": STRUCTURED, "Authorization": f"Bearer {token}"},
        )
    assert_nothing_stored(served, event)


@pytest.mark.parametrize(
    "serial",
    [None, "12345"],
    ids=["no-serialNumber", "serialNumber-not-an-OIN"],
)
def test_certificate_whose_subject_has_no_oin_serial_number_gets_401(
    served: Served, serial: str | None
) -> None:
    anonymous = served.pki.ca.partner("anonymous", "Politie", serial)
    event = pv_event(POLITIE_OIN)

    with served.client(anonymous) as client:
        response = post_event(client, event)
    assert_problem(response, 401, "serialNumber")
    assert_nothing_stored(served, event)


def test_serve_refuses_tls_files_it_cannot_load_naming_the_file(tmp_path: Path, pki: Pki) -> None:
    """A file that is no PEM was an ssl.SSLError traceback after `serving … at https://…`."""
    from typer.testing import CliRunner

    from ketenherstel.cli import app
    from tests.stores import made

    store = made(f"sqlite:///{tmp_path}/s.db")
    lines = tmp_path / "x.jsonl"
    lines.write_text('{"a": 1}\n')
    other_cert, _ = pki.rogue.issue("other", [x509.NameAttribute(NameOID.COMMON_NAME, "x")])
    cert, key = str(pki.server_cert), str(pki.server_key)
    for files, needle in [
        ((str(lines), key, None), f"--tls-cert {lines}: not a PEM certificate"),
        ((key, key, None), f"--tls-cert {key}: not a PEM certificate"),
        ((cert, str(lines), None), f"--tls-key {lines}: not a PEM private key"),
        ((cert, cert, None), f"--tls-key {cert}: not a PEM private key"),
        ((str(other_cert), key, None), "the key does not belong to --tls-cert"),
        ((cert, key, str(lines)), f"--tls-ca {lines}: not a PEM certificate"),
    ]:
        args = ["serve", "--store", store, "--port", "1", "--tls-cert", files[0]]
        args += ["--tls-key", files[1], *(["--tls-ca", files[2]] if files[2] else [])]
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 2, (files, result.exception)
        assert needle in result.stderr and "serving" not in result.stderr, result.stderr
