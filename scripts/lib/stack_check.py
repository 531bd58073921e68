#!/usr/bin/env python3
"""S3 checks of scripts/stack-test against the stack's moto (boto3).

  stack_check.py versions  ENDPOINT CREDS_DIR   two versions of one key, get, list versions
  stack_check.py wrongkey  ENDPOINT CREDS_DIR   a wrong secret must get SignatureDoesNotMatch
  stack_check.py buckets   ENDPOINT CREDS_DIR   the four buckets exist with versioning on
  stack_check.py object    ENDPOINT CREDS_DIR BUCKET KEY   the object exists (prints its size)
Exit 0 on success; otherwise prints why and exits 1.
"""
import os
import sys
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from botocore.exceptions import ClientError  # noqa: E402
from stack_s3 import BUCKETS, client, read  # noqa: E402


def s3(endpoint, creds, secret=None):
    key = read(os.path.join(creds, "stack/s3/access-key"))
    return client("s3", endpoint, key, secret or read(os.path.join(creds, "stack/s3/secret-key")))


def versions(endpoint, creds):
    c = s3(endpoint, creds)
    bucket, key = "nf-production-assets", f"stack-test/{uuid.uuid4()}/é x.txt"
    v1 = c.put_object(Bucket=bucket, Key=key, Body=b"version one")["VersionId"]
    v2 = c.put_object(Bucket=bucket, Key=key, Body=b"version two")["VersionId"]
    try:
        body = c.get_object(Bucket=bucket, Key=key)["Body"].read()
        if body != b"version two":
            sys.exit(f"get returned {body!r}, expected the second version")
        old = c.get_object(Bucket=bucket, Key=key, VersionId=v1)["Body"].read()
        if old != b"version one":
            sys.exit(f"get by version id returned {old!r}, expected the first version")
        listed = c.list_object_versions(Bucket=bucket, Prefix=key)["Versions"]
        ids = {v["VersionId"] for v in listed if v["Key"] == key}
        if ids != {v1, v2}:
            sys.exit(f"list-object-versions shows {sorted(ids)}, expected both {v1} and {v2}")
    finally:
        c.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": key, "VersionId": v} for v in (v1, v2)]})


def wrongkey(endpoint, creds):
    try:
        s3(endpoint, creds, secret="wrong-secret-key").list_objects_v2(Bucket="nf-production-assets")
    except ClientError as e:
        code = e.response["Error"]["Code"]
        if code != "SignatureDoesNotMatch":
            sys.exit(f"refused, but with {code} instead of SignatureDoesNotMatch")
        return
    sys.exit("a request signed with a wrong secret key was accepted: auth is off")


def buckets(endpoint, creds):
    c = s3(endpoint, creds)
    for b in BUCKETS:
        status = c.get_bucket_versioning(Bucket=b).get("Status")
        if status != "Enabled":
            sys.exit(f"bucket {b}: versioning is {status!r}, expected Enabled")


def obj(endpoint, creds, bucket, key):
    try:
        head = s3(endpoint, creds).head_object(Bucket=bucket, Key=key)
    except ClientError as e:
        sys.exit(f"s3://{bucket}/{key}: {e.response['Error']['Code']}")
    print(head["ContentLength"])


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    {"versions": versions, "wrongkey": wrongkey, "buckets": buckets, "object": obj}[cmd](*args)
