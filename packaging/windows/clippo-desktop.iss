; Inno Setup 6 script for clippo-desktop on Windows (not built or run on Linux: see ../README.md).
;
; Build:  python packaging\build.py          (makes build\dist\clippo-desktop\ and build\icons\*.ico)
;         iscc /DAppVersion=0.1.0 packaging\windows\clippo-desktop.iss
; Output: build\installer\clippo-desktop-0.1.0-windows-x64-setup.exe
;
; The installer copies the PyInstaller one-folder app to Program Files, adds Start-menu and
; optional desktop shortcuts, optionally offers "Open with Clippo Desktop" for photos, and puts
; the console executable on PATH on request. The uninstaller removes only what it installed:
; each user's library in %LOCALAPPDATA%\clippo-desktop is kept, and the last page says so.

#ifndef AppVersion
  #define AppVersion "0.1.0"
#endif
#define AppName "Clippo Desktop"
#define AppExe "clippo-desktop.exe"
#define CliExe "clippo-desktop-cli.exe"
#define Root ".."
#define Dist Root + "\..\build\dist\clippo-desktop"
#define Icons Root + "\..\build\icons"

[Setup]
; A fixed AppId keeps upgrades in place; never change it after the first release.
AppId={{6C1F5E2A-8F47-4E0B-9C2D-3B1A7D5E9F10}
AppName={#AppName}
AppVersion={#AppVersion}
AppPublisher=The clippo-desktop developers
DefaultDirName={autopf}\clippo-desktop
DefaultGroupName={#AppName}
DisableProgramGroupPage=yes
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
; Per-machine by default; the dialog lets a user without admin rights install for themselves.
PrivilegesRequired=admin
PrivilegesRequiredOverridesAllowed=dialog
ChangesAssociations=yes
ChangesEnvironment=yes
SetupIconFile={#Icons}\clippo-desktop.ico
UninstallDisplayIcon={app}\{#AppExe}
OutputDir={#Root}\..\build\installer
OutputBaseFilename=clippo-desktop-{#AppVersion}-windows-x64-setup
Compression=lzma2/max
SolidCompression=yes
WizardStyle=modern
LicenseFile={#Dist}\_internal\licenses\THIRD_PARTY_NOTICES.md

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked
Name: "addtopath"; Description: "Add clippo-desktop-cli to PATH (command line use)"; Flags: unchecked
Name: "openwith"; Description: "Offer ""Open with {#AppName}"" for JPEG, PNG and HEIC photos"; Flags: unchecked

[Files]
Source: "{#Dist}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{group}\{#AppName}"; Filename: "{app}\{#AppExe}"
Name: "{group}\Uninstall {#AppName}"; Filename: "{uninstallexe}"
Name: "{autodesktop}\{#AppName}"; Filename: "{app}\{#AppExe}"; Tasks: desktopicon

[Registry]
; "Open with" only (OpenWithProgids): never takes over the user's default photo viewer.
; Needs the launcher to accept a photo path as its argument (see packaging/README.md).
Root: HKA; Subkey: "Software\Classes\ClippoDesktop.Photo"; ValueType: string; ValueData: "Photo (Clippo Desktop)"; Flags: uninsdeletekey; Tasks: openwith
Root: HKA; Subkey: "Software\Classes\ClippoDesktop.Photo\DefaultIcon"; ValueType: string; ValueData: "{app}\{#AppExe},0"; Tasks: openwith
Root: HKA; Subkey: "Software\Classes\ClippoDesktop.Photo\shell\open\command"; ValueType: string; ValueData: """{app}\{#AppExe}"" ""%1"""; Tasks: openwith
Root: HKA; Subkey: "Software\Classes\.jpg\OpenWithProgids"; ValueType: string; ValueName: "ClippoDesktop.Photo"; ValueData: ""; Flags: uninsdeletevalue; Tasks: openwith
Root: HKA; Subkey: "Software\Classes\.jpeg\OpenWithProgids"; ValueType: string; ValueName: "ClippoDesktop.Photo"; ValueData: ""; Flags: uninsdeletevalue; Tasks: openwith
Root: HKA; Subkey: "Software\Classes\.png\OpenWithProgids"; ValueType: string; ValueName: "ClippoDesktop.Photo"; ValueData: ""; Flags: uninsdeletevalue; Tasks: openwith
Root: HKA; Subkey: "Software\Classes\.heic\OpenWithProgids"; ValueType: string; ValueName: "ClippoDesktop.Photo"; ValueData: ""; Flags: uninsdeletevalue; Tasks: openwith
; PATH entry for the console executable (per-user or per-machine, matching the install mode).
Root: HKA; Subkey: "{code:PathKey}"; ValueType: expandsz; ValueName: "Path"; ValueData: "{olddata};{app}"; Tasks: addtopath; Check: NeedsAddPath(ExpandConstant('{app}'))

[Run]
Filename: "{app}\{#AppExe}"; Description: "{cm:LaunchProgram,{#AppName}}"; Flags: nowait postinstall skipifsilent

[UninstallDelete]
; Only files the app itself may create inside its install folder (none expected). User data in
; %LOCALAPPDATA%\clippo-desktop is deliberately NOT listed here.
Type: filesandordirs; Name: "{app}\_internal\__pycache__"

[Code]
function PathKey(Param: String): String;
begin
  if IsAdminInstallMode then
    Result := 'SYSTEM\CurrentControlSet\Control\Session Manager\Environment'
  else
    Result := 'Environment';
end;

function NeedsAddPath(Dir: String): Boolean;
var
  Paths: String;
begin
  if not RegQueryStringValue(HKA, PathKey(''), 'Path', Paths) then
    Paths := '';
  Result := Pos(';' + Uppercase(Dir) + ';', ';' + Uppercase(Paths) + ';') = 0;
end;

procedure RemoveFromPath(Dir: String);
var
  Paths: String;
begin
  if RegQueryStringValue(HKA, PathKey(''), 'Path', Paths) then
    if StringChangeEx(Paths, ';' + Dir, '', True) > 0 then
      RegWriteExpandStringValue(HKA, PathKey(''), 'Path', Paths);
end;

procedure CurUninstallStepChanged(CurUninstallStep: TUninstallStep);
begin
  if CurUninstallStep = usUninstall then
    RemoveFromPath(ExpandConstant('{app}'));
  if CurUninstallStep = usPostUninstall then
    MsgBox('Clippo Desktop was removed. Your photo library index, models and settings were kept in'
      + #13#10 + ExpandConstant('{localappdata}') + '\clippo-desktop' + #13#10
      + 'Delete that folder to remove them too. Your photos were never changed.',
      mbInformation, MB_OK);
end;
