//! ${{ values.description }}

use std::io::{Read, Write};
use std::net::TcpListener;

const ADDRESS: &str = "0.0.0.0:${{ values.port }}";

fn main() -> std::io::Result<()> {
    let listener = TcpListener::bind(ADDRESS)?;
    for stream in listener.incoming() {
        let mut stream = stream?;
        let mut request = [0_u8; 1024];
        let _ = stream.read(&mut request)?;
        stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nok\n")?;
    }
    Ok(())
}
