terraform {
  # No provider: this module only renders text, so any platform that boots
  # cloud-init (EC2, vSphere guestinfo, libvirt/Proxmox NoCloud) can use it.
  required_version = ">= 1.5.0"
}
