#!/usr/bin/env python3
"""S3 side of the local stack (moto server with authentication switched on).

setup: moto starts with INITIAL_NO_AUTH_ACTION_COUNT=3; the three unchecked
requests create the IAM user, its allow-all policy and its access key. Every
later request is signature-checked. Then the buckets are created (versioning on
where the stack wants it). Writes the key to the credentials folder.

check: exits 0 when the stored key is accepted, 3 when moto refuses it
(restarted in memory, key gone), 1 on any other failure.
"""
import argparse
import os
import sys

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError, EndpointConnectionError

REGION = "us-east-1"
USER = "nf-stack"
# nf-backups is versioned too: the console's storage snapshots rely on versions.
BUCKETS = {
    "nf-staging-assets": True,
    "nf-production-assets": True,
    "nf-backups": True,
    "nf-backups-offsite": True,
}
ALLOW_ALL = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}'


def client(service, endpoint, key, secret):
    cfg = Config(
        s3={"addressing_style": "path"},
        retries={"max_attempts": 2, "mode": "standard"},
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        connect_timeout=3,
        read_timeout=20,
    )
    return boto3.client(service, endpoint_url=endpoint, region_name=REGION,
                        aws_access_key_id=key, aws_secret_access_key=secret, config=cfg)


def write_private(path, value):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(value)
    os.replace(tmp, path)


def read(path):
    with open(path) as f:
        return f.read()


def setup(args):
    # The three unauthenticated actions moto grants (INITIAL_NO_AUTH_ACTION_COUNT=3).
    iam = client("iam", args.endpoint, "bootstrap", "bootstrap")
    iam.create_user(UserName=USER)                                            # 1
    iam.put_user_policy(UserName=USER, PolicyName="allow-all",
                        PolicyDocument=ALLOW_ALL)                             # 2
    key = iam.create_access_key(UserName=USER)["AccessKey"]                   # 3
    write_private(os.path.join(args.creds, "stack/s3/access-key"), key["AccessKeyId"])
    write_private(os.path.join(args.creds, "stack/s3/secret-key"), key["SecretAccessKey"])
    s3 = client("s3", args.endpoint, key["AccessKeyId"], key["SecretAccessKey"])
    for bucket, versioned in BUCKETS.items():
        s3.create_bucket(Bucket=bucket)
        if versioned:
            s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    # Prove that auth is on: a wrong secret must be refused from now on.
    bad = client("s3", args.endpoint, key["AccessKeyId"], "wrong-" + key["SecretAccessKey"])
    try:
        bad.list_buckets()
    except ClientError as e:
        if e.response["Error"]["Code"] != "SignatureDoesNotMatch":
            raise
    else:
        sys.exit("stack_s3: moto accepted a wrong secret key: authentication is not switched on "
                 "(was it started with INITIAL_NO_AUTH_ACTION_COUNT=3?)")
    print(f"s3: user {USER}, access key {key['AccessKeyId']}, buckets {', '.join(BUCKETS)}")


def check(args):
    try:
        key = read(os.path.join(args.creds, "stack/s3/access-key"))
        secret = read(os.path.join(args.creds, "stack/s3/secret-key"))
    except OSError:
        return 3
    try:
        names = {b["Name"] for b in client("s3", args.endpoint, key, secret).list_buckets()["Buckets"]}
    except ClientError as e:
        code = e.response["Error"]["Code"]
        print(f"stack_s3: stored key refused: {code}", file=sys.stderr)
        return 3 if code in ("InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidClientTokenId") else 1
    except EndpointConnectionError as e:
        print(f"stack_s3: {e}", file=sys.stderr)
        return 1
    missing = set(BUCKETS) - names
    if missing:
        print(f"stack_s3: buckets missing: {', '.join(sorted(missing))}", file=sys.stderr)
        return 3
    return 0


def main():
    p = argparse.ArgumentParser()
    p.add_argument("command", choices=["setup", "check"])
    p.add_argument("--endpoint", required=True)
    p.add_argument("--creds", required=True, help="credentials folder")
    args = p.parse_args()
    sys.exit(setup(args) if args.command == "setup" else check(args))


if __name__ == "__main__":
    main()
