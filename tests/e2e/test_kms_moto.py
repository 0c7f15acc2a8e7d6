#!/usr/bin/env python3
"""The enclave's KMS client (lib/src/kms.c through tests/e2e/kmsclient)
against moto_server, an implementation of KMS we did not write: the JSON
protocol of GenerateDataKey and Decrypt (without Recipient: moto has none),
EncryptionContext, and SigV4 with session credentials from an assumed role,
which moto checks (INITIAL_NO_AUTH_ACTION_COUNT: the set-up calls before
are free, every call after must be signed by a known principal with IAM
permission).

usage: test_kms_moto.py KMSCLIENT
"""
import atexit
import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import check, finish  # noqa: E402

KMSCLIENT = sys.argv[1]
MOTO = shutil.which("moto_server")
if MOTO is None:
    print("moto_server is not installed (scripts/setup.sh says how)")
    sys.exit(1)
import boto3  # noqa: E402

s = socket.socket()
s.bind(("127.0.0.1", 0))
PORT = s.getsockname()[1]
s.close()
URL = f"http://127.0.0.1:{PORT}"
REGION = "us-east-1"
SETUP_CALLS = 4                         # create_role, put_role_policy, create_key, assume_role
env = dict(os.environ, INITIAL_NO_AUTH_ACTION_COUNT=str(SETUP_CALLS))
moto = subprocess.Popen([MOTO, "-H", "127.0.0.1", "-p", str(PORT)], env=env,
                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
atexit.register(lambda: moto.poll() is None and (moto.kill(), moto.wait()))
for _ in range(300):                    # bounded: 30 s
    try:
        socket.create_connection(("127.0.0.1", PORT), timeout=1).close()
        break
    except OSError:
        time.sleep(0.1)

boot = dict(region_name=REGION, endpoint_url=URL, aws_access_key_id="AKIAIOSFODNN7EXAMPLE",
            aws_secret_access_key="setup")
iam = boto3.client("iam", **boot)
role = iam.create_role(RoleName="glassbox-enclave", AssumeRolePolicyDocument=json.dumps({
    "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"},
                                            "Action": "sts:AssumeRole"}]}))["Role"]
iam.put_role_policy(RoleName="glassbox-enclave", PolicyName="kms", PolicyDocument=json.dumps({
    "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Resource": "*", "Action": [
        "kms:GenerateDataKey", "kms:Decrypt", "kms:Encrypt"]}]}))
key = boto3.client("kms", **boot).create_key()["KeyMetadata"]["Arn"]
creds = boto3.client("sts", **boot).assume_role(RoleArn=role["Arn"],
                                                RoleSessionName="enclave")["Credentials"]
ENV = dict(os.environ, AWS_ACCESS_KEY_ID=creds["AccessKeyId"],
           AWS_SECRET_ACCESS_KEY=creds["SecretAccessKey"], AWS_SESSION_TOKEN=creds["SessionToken"])
kms = boto3.client("kms", region_name=REGION, endpoint_url=URL,
                   aws_access_key_id=creds["AccessKeyId"],
                   aws_secret_access_key=creds["SecretAccessKey"],
                   aws_session_token=creds["SessionToken"])


def client(*args, env=ENV):
    r = subprocess.run([KMSCLIENT, *args], capture_output=True, text=True, env=env, timeout=60)
    return r.returncode, (json.loads(r.stdout) if r.returncode == 0 else None), r.stderr


# GenerateDataKey by our client, Decrypt by boto3: the same key.
rc, out, err = client("generate", URL, REGION, key, "signer-seal")
check("GenerateDataKey accepted by moto (SigV4 with a session token)", rc == 0, err)
if rc == 0:
    plain = base64.b64decode(out["plaintext"])
    back = kms.decrypt(CiphertextBlob=base64.b64decode(out["blob"]),
                       EncryptionContext={"purpose": "signer-seal"})["Plaintext"]
    check("a 32-byte data key that moto decrypts to the same bytes", len(plain) == 32 and
          back == plain)
    # Decrypt by our client of the same blob, with and without the context.
    rc, d, err = client("decrypt", URL, REGION, key, out["blob"], "signer-seal")
    check("Decrypt by our client gives the key back", rc == 0 and
          base64.b64decode(d["plaintext"]) == plain, err)
    rc, d, err = client("decrypt", URL, REGION, key, out["blob"], "another")
    check("another EncryptionContext: kms_invalid_ciphertext", rc == 1 and
          err.startswith("kms_invalid_ciphertext:"), err)

# A blob boto3 made (Encrypt of 32 bytes) opens with our Decrypt.
made = kms.encrypt(KeyId=key, Plaintext=b"k" * 32)["CiphertextBlob"]
rc, d, err = client("decrypt", URL, REGION, key, base64.b64encode(made).decode())
check("Decrypt of boto3's blob", rc == 0 and base64.b64decode(d["plaintext"]) == b"k" * 32, err)

# moto checks the signature: a wrong secret or token is refused.
bad = dict(ENV, AWS_SECRET_ACCESS_KEY=creds["SecretAccessKey"][:-2] + "xx")
rc, _, err = client("generate", URL, REGION, key, env=bad)
check("a wrong secret is refused (kms_bad_credentials)", rc == 1 and
      err.startswith("kms_bad_credentials:"), err)
bad = dict(ENV, AWS_SESSION_TOKEN=creds["SessionToken"][:-4] + "AAAA")
rc, _, err = client("generate", URL, REGION, key, env=bad)
check("a wrong session token is refused", rc == 1 and err.startswith("kms_"), err)
rc, _, err = client("generate", URL, REGION, key.replace(key[-4:], "0000"))
check("an unknown key: kms_key_unusable", rc == 1 and err.startswith("kms_key_unusable:"), err)
rc, _, err = client("generate", f"http://127.0.0.1:{PORT + 1 if PORT < 65535 else 1}", REGION, key)
check("nobody listening: kms_unreachable", rc == 1 and err.startswith("kms_unreachable:"), err)

moto.terminate()
moto.wait(timeout=30)
finish()
