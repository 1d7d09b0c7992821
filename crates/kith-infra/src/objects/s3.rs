//! The S3-compatible backend: path-style URLs (`<endpoint>/<bucket>/<key>`),
//! SigV4-signed PUT, GET and DELETE of objects and ListObjectsV2 for prefix
//! deletes, over plain reqwest (no AWS SDK).
//!
//! Configured by URL: `s3://<bucket>?endpoint=http://127.0.0.1:9000&region=us-east-1`
//! (endpoint default `https://s3.<region>.amazonaws.com`, region default
//! `us-east-1`); the key pair comes from the operator's environment, never
//! the URL. The endpoint is operator configuration, so it is reached with a
//! plain client (not the SSRF guard). A put is gathered in memory up to its
//! cap (S3 wants the length and SigV4 the payload hash before the body);
//! a get streams.

use super::sigv4::{self, Credentials, EMPTY_SHA256};
use super::{ByteStream, Meter, Object, ObjectError, PutInfo};
use futures_util::stream::StreamExt;
use std::time::Duration;
use url::Url;

#[derive(Debug, Clone)]
pub struct S3Config {
    pub bucket: String,
    /// Scheme, host and port (and an optional path prefix) of the service.
    pub endpoint: Url,
    pub region: String,
    pub credentials: Credentials,
}

impl S3Config {
    pub fn parse(value: &str, credentials: Credentials) -> Result<S3Config, ObjectError> {
        let url = Url::parse(value).map_err(|e| ObjectError::Config(format!("object store URL: {e}")))?;
        let bucket = url.host_str().unwrap_or("").to_string();
        let bucket_ok = (3..=63).contains(&bucket.len())
            && bucket.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
        if !bucket_ok {
            return Err(ObjectError::Config(format!("{bucket:?} is not an S3 bucket name")));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(ObjectError::Config("put the S3 keys in the environment, not in the URL".into()));
        }
        let mut region = "us-east-1".to_string();
        let mut endpoint = None;
        for (k, v) in url.query_pairs() {
            match k.as_ref() {
                "region" => region = v.to_string(),
                "endpoint" => endpoint = Some(v.to_string()),
                other => return Err(ObjectError::Config(format!("unknown object store option {other:?}"))),
            }
        }
        let endpoint = endpoint.unwrap_or_else(|| format!("https://s3.{region}.amazonaws.com"));
        let endpoint = Url::parse(&endpoint).map_err(|e| ObjectError::Config(format!("S3 endpoint: {e}")))?;
        if !matches!(endpoint.scheme(), "http" | "https") || endpoint.host_str().is_none() {
            return Err(ObjectError::Config("the S3 endpoint is an http(s) URL".into()));
        }
        Ok(S3Config { bucket, endpoint, region, credentials })
    }
}

#[derive(Debug, Clone)]
pub struct S3Store {
    config: S3Config,
    http: reqwest::Client,
}

impl S3Store {
    pub fn new(config: S3Config) -> Result<S3Store, ObjectError> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .read_timeout(Duration::from_secs(60))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| ObjectError::Config(e.to_string()))?;
        Ok(S3Store { config, http })
    }

    pub fn describe(&self) -> String {
        format!("S3 bucket {} at {}", self.config.bucket, self.config.endpoint)
    }

    /// `/<base path>/<bucket>[/<key>]`, encoded.
    fn path(&self, key: Option<&str>) -> String {
        let base = self.config.endpoint.path().trim_end_matches('/');
        let raw = match key {
            Some(k) => format!("{base}/{}/{k}", self.config.bucket),
            None => format!("{base}/{}", self.config.bucket),
        };
        sigv4::encode_path(&raw)
    }

    /// A signed request.
    fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        query: &[(String, String)],
        payload_sha256: &str,
    ) -> reqwest::RequestBuilder {
        let mut host = self.config.endpoint.host_str().unwrap_or("").to_string();
        if let Some(port) = self.config.endpoint.port() {
            host = format!("{host}:{port}");
        }
        let date = sigv4::amz_date(kith_domain::time::now_ms());
        let mut headers = vec![
            ("host".to_string(), host),
            ("x-amz-content-sha256".to_string(), payload_sha256.to_string()),
            ("x-amz-date".to_string(), date.clone()),
        ];
        if let Some(token) = &self.config.credentials.session_token {
            headers.push(("x-amz-security-token".to_string(), token.clone()));
        }
        let auth = sigv4::authorization(
            &sigv4::Request { method: method.as_str(), path, query, headers: &headers, payload_sha256 },
            &self.config.credentials,
            &self.config.region,
            &date,
        );
        let mut url = self.config.endpoint.clone();
        url.set_path(path);
        let q = sigv4::canonical_query(query);
        url.set_query(if q.is_empty() { None } else { Some(&q) });
        let mut req = self.http.request(method, url).header("authorization", auth);
        for (k, v) in headers.into_iter().filter(|(k, _)| k != "host") {
            req = req.header(k, v);
        }
        req
    }

    async fn fail(what: &str, resp: reqwest::Response) -> ObjectError {
        let status = resp.status().as_u16();
        let body = resp.text().await.unwrap_or_default();
        let code = between(&body, "<Code>", "</Code>").unwrap_or_default();
        ObjectError::Remote(format!("{what}: HTTP {status} {code}"))
    }

    pub async fn put(&self, key: &str, mut body: ByteStream, max: u64) -> Result<PutInfo, ObjectError> {
        let mut meter = Meter::new(max);
        let mut buf = Vec::new();
        while let Some(chunk) = body.next().await {
            let chunk = chunk?;
            meter.add(&chunk)?;
            buf.extend_from_slice(&chunk);
        }
        let info = meter.finish();
        let req = self
            .request(reqwest::Method::PUT, &self.path(Some(key)), &[], &info.sha256)
            .header("content-type", "application/octet-stream")
            .body(buf);
        let resp = req.send().await.map_err(transport)?;
        if !resp.status().is_success() {
            return Err(Self::fail("put", resp).await);
        }
        Ok(info)
    }

    pub async fn get(&self, key: &str) -> Result<Option<Object>, ObjectError> {
        let resp = self
            .request(reqwest::Method::GET, &self.path(Some(key)), &[], EMPTY_SHA256)
            .send()
            .await
            .map_err(transport)?;
        if resp.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !resp.status().is_success() {
            return Err(Self::fail("get", resp).await);
        }
        let size = resp.content_length().unwrap_or(0);
        let body = futures_util::stream::try_unfold(resp, |mut resp| async move {
            match resp.chunk().await.map_err(transport)? {
                Some(chunk) => Ok(Some((chunk, resp))),
                None => Ok(None),
            }
        })
        .boxed();
        Ok(Some(Object { size, body }))
    }

    pub async fn delete(&self, key: &str) -> Result<(), ObjectError> {
        let resp = self
            .request(reqwest::Method::DELETE, &self.path(Some(key)), &[], EMPTY_SHA256)
            .send()
            .await
            .map_err(transport)?;
        if resp.status().is_success() || resp.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(());
        }
        Err(Self::fail("delete", resp).await)
    }

    /// List (ListObjectsV2, 1,000 at a time) and delete every key under `prefix`.
    pub async fn delete_prefix(&self, prefix: &str) -> Result<u64, ObjectError> {
        let mut deleted = 0;
        loop {
            // Deleted keys drop out of the listing, so each round starts from the top.
            let query = vec![("list-type".to_string(), "2".to_string()), ("prefix".to_string(), prefix.to_string())];
            let resp = self
                .request(reqwest::Method::GET, &self.path(None), &query, EMPTY_SHA256)
                .send()
                .await
                .map_err(transport)?;
            if !resp.status().is_success() {
                return Err(Self::fail("list", resp).await);
            }
            let xml = resp.text().await.map_err(transport)?;
            let keys = list_keys(&xml);
            if keys.is_empty() {
                return Ok(deleted);
            }
            for key in keys.iter().filter(|k| k.starts_with(prefix)) {
                self.delete(key).await?;
                deleted += 1;
            }
            if !keys.iter().any(|k| k.starts_with(prefix)) {
                return Ok(deleted);
            }
        }
    }
}

fn transport(e: reqwest::Error) -> ObjectError {
    ObjectError::Remote(e.without_url().to_string())
}

fn between<'a>(s: &'a str, open: &str, close: &str) -> Option<&'a str> {
    let start = s.find(open)? + open.len();
    let len = s[start..].find(close)?;
    Some(&s[start..start + len])
}

/// The `<Key>` values of a ListObjectsV2 answer, XML entities decoded.
fn list_keys(xml: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(k) = between(rest, "<Key>", "</Key>") {
        out.push(
            k.replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&quot;", "\"")
                .replace("&apos;", "'")
                .replace("&amp;", "&"),
        );
        let end = rest.find("</Key>").expect("found above") + "</Key>".len();
        rest = &rest[end..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds() -> Credentials {
        Credentials { access_key_id: "a".into(), secret_access_key: "b".into(), session_token: None }
    }

    #[test]
    fn urls() {
        let c = S3Config::parse("s3://kith-files?endpoint=http://127.0.0.1:9000&region=eu-west-1", creds()).unwrap();
        assert_eq!(c.bucket, "kith-files");
        assert_eq!(c.region, "eu-west-1");
        assert_eq!(c.endpoint.as_str(), "http://127.0.0.1:9000/");
        let c = S3Config::parse("s3://kith-files", creds()).unwrap();
        assert_eq!(c.endpoint.as_str(), "https://s3.us-east-1.amazonaws.com/");
        assert!(S3Config::parse("s3://Bad_Bucket", creds()).is_err());
        assert!(S3Config::parse("s3://key:secret@bucket1", creds()).is_err());
        assert!(S3Config::parse("s3://bucket1?nope=1", creds()).is_err());
        let store = S3Store::new(S3Config::parse("s3://b12?endpoint=http://h:1/base/", creds()).unwrap()).unwrap();
        assert_eq!(store.path(Some("org/x/a b")), "/base/b12/org/x/a%20b");
    }

    #[test]
    fn listing() {
        let xml = "<ListBucketResult><Contents><Key>org/a/1</Key></Contents><Contents><Key>org/a/&amp;2</Key>\
                   </Contents><IsTruncated>false</IsTruncated></ListBucketResult>";
        assert_eq!(list_keys(xml), vec!["org/a/1", "org/a/&2"]);
        assert!(list_keys("<ListBucketResult/>").is_empty());
    }
}
