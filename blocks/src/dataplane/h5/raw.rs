//! The two libhdf5 calls the high-level crate does not expose for our use: writing packed
//! rows of a run-time compound type into a 1-D dataset, and clearing the "open for write"
//! flags a killed SWMR writer leaves in a file's superblock (what `h5clear -s` does).

use std::ffi::CString;
use std::path::Path;

use hdf5::{Dataset, Datatype};
use hdf5_sys::h5d::{H5Dget_space, H5Dwrite};
use hdf5_sys::h5f::{H5Fclose, H5Fopen, H5F_ACC_RDWR};
use hdf5_sys::h5i::hid_t;
use hdf5_sys::h5p::{H5Pclose, H5Pcreate, H5Pset, H5P_CLS_FILE_ACCESS, H5P_DEFAULT};
use hdf5_sys::h5s::{H5S_seloper_t, H5Sclose, H5Screate_simple, H5Sselect_hyperslab};

/// Writes `n` rows packed in `buf` (of `dtype`) at row `at` of the 1-D dataset `ds`.
pub fn write_rows(ds: &Dataset, dtype: &Datatype, at: u64, n: u64, buf: &[u8]) -> hdf5::Result<()> {
    if buf.len() < dtype.size() * n as usize {
        return Err("row buffer shorter than the rows".into());
    }
    // SAFETY: ids come from live objects; the hyperslab lies inside the resized dataset;
    // the buffer holds n rows of dtype; every id we create is closed; the library lock
    // is held (hdf5::sync).
    hdf5::sync::sync(|| unsafe {
        let file_space = H5Dget_space(ds.id());
        if file_space < 0 {
            return Err("H5Dget_space failed".into());
        }
        let (start, count) = ([at], [n]);
        let sel = H5Sselect_hyperslab(
            file_space,
            H5S_seloper_t::H5S_SELECT_SET,
            start.as_ptr(),
            std::ptr::null(),
            count.as_ptr(),
            std::ptr::null(),
        );
        let mem_space = H5Screate_simple(1, count.as_ptr(), std::ptr::null());
        let status = if sel < 0 || mem_space < 0 {
            -1
        } else {
            H5Dwrite(
                ds.id(),
                dtype.id(),
                mem_space,
                file_space,
                H5P_DEFAULT,
                buf.as_ptr().cast(),
            )
        };
        if mem_space >= 0 {
            H5Sclose(mem_space);
        }
        H5Sclose(file_space);
        if status < 0 {
            return Err("H5Dwrite of table rows failed".into());
        }
        Ok(())
    })
}

/// Clears the superblock status flags of a file a killed writer left "open for write".
pub fn clear_status_flags(path: &Path) -> Result<(), String> {
    let c = CString::new(path.as_os_str().as_encoded_bytes()).map_err(|e| e.to_string())?;
    // SAFETY: the property exists on file-access lists of libhdf5 1.10+ (h5clear uses it);
    // every id we create is closed; the library lock is held (hdf5::sync).
    hdf5::sync::sync(|| unsafe {
        let fapl: hid_t = H5Pcreate(*H5P_CLS_FILE_ACCESS);
        if fapl < 0 {
            return Err("H5Pcreate failed".into());
        }
        let yes: u8 = 1;
        let name = c"clear_status_flags";
        let set = H5Pset(fapl, name.as_ptr(), (&yes as *const u8).cast_mut().cast());
        let f = if set >= 0 {
            H5Fopen(c.as_ptr(), H5F_ACC_RDWR, fapl)
        } else {
            -1
        };
        H5Pclose(fapl);
        if f < 0 {
            return Err(format!(
                "cannot clear the status flags of {}",
                path.display()
            ));
        }
        H5Fclose(f);
        Ok(())
    })
}

/// Writes a scalar fixed-length ASCII string attribute (`S<len>`, as Digital RF stores
/// its strings; h5py reads it as `numpy.bytes_`).
pub fn fixed_ascii_attr(loc: &hdf5::Location, name: &str, value: &str) -> hdf5::Result<()> {
    let td = hdf5::types::TypeDescriptor::FixedAscii(value.len().max(1));
    let attr = loc.new_attr_builder().empty_as(&td).create(name)?;
    let dtype = Datatype::from_descriptor(&td)?;
    let mut buf = value.as_bytes().to_vec();
    buf.resize(value.len().max(1), 0);
    // SAFETY: a scalar attribute of exactly this fixed-size string type; buf holds it.
    let status = hdf5::sync::sync(|| unsafe {
        hdf5_sys::h5a::H5Awrite(attr.id(), dtype.id(), buf.as_ptr().cast())
    });
    if status < 0 {
        return Err(format!("writing attribute {name}").into());
    }
    Ok(())
}
