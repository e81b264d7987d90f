// Files: uploads (POST /api/files) and downloads (GET /api/files/<id>). Both need the Bearer
// token, which an <img src> or <a href> cannot send, so downloads are fetched and shown through
// blob: URLs, cached per file.

const PREVIEWABLE = new Set(["image/png", "image/jpeg", "image/gif", "image/webp", "image/avif", "image/bmp"]);

export const isPreviewable = (contentType) => PREVIEWABLE.has(String(contentType).split(";")[0].trim().toLowerCase());

export class Files {
  constructor(getToken) {
    this.getToken = getToken;
    this.urls = new Map(); // fileId -> Promise<blob: URL>
  }

  // Resolves to the stored file's { fileId, name, size, contentType, url }; rejects with an Error.
  async upload(file) {
    const form = new FormData();
    form.append("file", file, file.name);
    let res;
    try {
      res = await fetch("/api/files", { method: "POST", headers: { Authorization: `Bearer ${this.getToken()}` }, body: form });
    } catch {
      throw Object.assign(new Error("upload failed: no connection"), { transient: true });
    }
    const body = await res.json().catch(() => ({}));
    if (res.status === 201) return body;
    const message = body?.error?.message || `upload failed (${res.status})`;
    throw Object.assign(new Error(message), { transient: res.status >= 500 });
  }

  // A blob: URL with the file's bytes.
  objectUrl(attachment) {
    let p = this.urls.get(attachment.fileId);
    if (!p) {
      p = fetch(attachment.url, { headers: { Authorization: `Bearer ${this.getToken()}` } }).then(async (res) => {
        if (!res.ok) {
          await res.body?.cancel(); // the error's body is not wanted: release the request
          throw new Error(res.status === 403 ? "not allowed" : `unavailable (${res.status})`);
        }
        return URL.createObjectURL(await res.blob());
      });
      p.catch(() => this.urls.delete(attachment.fileId)); // try again next time
      this.urls.set(attachment.fileId, p);
    }
    return p;
  }

  // Saves the file as a download.
  async download(attachment) {
    const url = await this.objectUrl(attachment);
    const a = document.createElement("a");
    a.href = url;
    a.download = attachment.name || "file";
    document.body.append(a);
    a.click();
    a.remove();
  }

  clear() {
    for (const p of this.urls.values()) p.then((u) => URL.revokeObjectURL(u), () => {});
    this.urls.clear();
  }
}
