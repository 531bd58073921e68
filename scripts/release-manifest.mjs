// Writes the updater's latest.json on stdout (called by scripts/release):
//   node release-manifest.mjs VERSION BASE_URL NOTES TAURI_CONF ARTIFACT...
// Each ARTIFACT has its ARTIFACT.sig next to it. Refuses a signature made by
// a key other than tauri.conf.json's plugins.updater.pubkey: the installed
// apps would refuse that release.
import { readFileSync, statSync } from "node:fs";
import { basename } from "node:path";

const [version, baseUrl, notes, conf, ...artifacts] = process.argv.slice(2);

// The key id of a minisign public key or signature: bytes 2..10 of the
// base64 line under the "untrusted comment" (Tauri base64-wraps the file).
function keyId(wrapped) {
  const text = Buffer.from(wrapped.trim(), "base64").toString("utf8");
  const line = text.split("\n")[1] ?? "";
  return Buffer.from(line, "base64").subarray(2, 10).toString("hex");
}

const pubkey = JSON.parse(readFileSync(conf, "utf8")).plugins?.updater?.pubkey;
if (!pubkey) throw new Error(`${conf} has no plugins.updater.pubkey`);

// Updater targets: `{os}-{arch}-{installer}` first, then `{os}-{arch}`.
function targets(file) {
  const arch = /aarch64|arm64/.test(file) ? "aarch64" : "x86_64";
  if (file.endsWith(".deb")) return [`linux-${arch}-deb`];
  if (file.endsWith(".rpm")) return [`linux-${arch}-rpm`];
  if (file.endsWith(".AppImage")) return [`linux-${arch}-appimage`, `linux-${arch}`];
  if (file.endsWith(".app.tar.gz")) {
    const archs = /universal/.test(file) ? ["aarch64", "x86_64"] : [arch];
    return archs.flatMap((a) => [`darwin-${a}-app`, `darwin-${a}`]);
  }
  if (file.endsWith("-setup.exe")) return [`windows-${arch}-nsis`, `windows-${arch}`];
  if (file.endsWith(".msi")) return [`windows-${arch}-msi`];
  throw new Error(`not an update package: ${file}`);
}

const platforms = {};
for (const file of artifacts) {
  const signature = readFileSync(`${file}.sig`, "utf8").trim();
  if (keyId(signature) !== keyId(pubkey)) {
    process.stderr.write(
      `release: ${file}.sig was made by key ${keyId(signature)}, but ${conf} trusts ${keyId(pubkey)}: ` +
        "the installed apps would refuse this release; sign with the key whose public half is in the config\n",
    );
    process.exit(1);
  }
  const entry = {
    url: `${baseUrl.replace(/\/$/, "")}/${encodeURIComponent(basename(file))}`,
    signature,
    size: statSync(file).size,
  };
  for (const t of targets(file)) platforms[t] ??= entry;
}

const manifest = { version, notes, pub_date: new Date().toISOString().replace(/\.\d+Z$/, "Z"), platforms };
process.stdout.write(`${JSON.stringify(manifest, null, 2)}\n`);
